"""Files we create in the data dir are readable by the service account only (0600).

Not left to the process umask: a service started with the usual 022 would
otherwise leave the SQLite database, archive blobs, checkpoints and exports
readable by every local user. ``open(path, "wb", opener=private_opener)``.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PRIVATE = 0o600


def private_opener(path: str, flags: int) -> int:
    return os.open(path, flags, PRIVATE)


def ensure_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist; tighten it if it does
    (an installation from before this rule)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE)
        os.close(fd)
    except FileExistsError:
        with contextlib.suppress(OSError):  # not ours to change (e.g. another owner)
            if os.stat(path).st_mode & 0o077:
                os.chmod(path, PRIVATE)
