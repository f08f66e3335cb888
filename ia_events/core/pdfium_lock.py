"""One lock for PDFium in this process.

PDFium (through pypdfium2) is not thread-safe: two threads inside it at once corrupt
its global state, and from then on every document it opens fails with "Data format
error" -- also perfectly valid ones. Threads meet it here: the Streamlit server runs
each browser session in its own thread (uploads are checked, previews rendered), and
bulk sealing stages files in parallel threads (``archive.evidence.add_linked_many``).
Every function that touches PDFium is wrapped with ``pdfium_exclusive``; the work
inside is short (open, read a few values or render a page, close).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

LOCK = threading.RLock()


def pdfium_exclusive(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn`` while no other thread of the process is inside PDFium."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with LOCK:
            return fn(*args, **kwargs)

    return wrapper
