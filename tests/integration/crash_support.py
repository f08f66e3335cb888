"""Killing a child process with SIGKILL at a chosen point (the crash-safety tests).

The child writes ``text`` into the ``marker`` file when it has reached the point; the
test then kills it there, as a power cut or the OOM killer would."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest


def kill_9_at(proc: subprocess.Popen, marker: Path, text: str, timeout: float = 60) -> None:  # type: ignore[type-arg]
    """Wait until ``marker`` holds ``text``, then ``kill -9`` the child and reap it."""
    deadline = time.monotonic() + timeout
    while not (marker.exists() and marker.read_text() == text):
        if proc.poll() is not None:
            pytest.fail(f"child ended early: {proc.stderr.read().decode()[-3000:]}")  # type: ignore[union-attr]
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("child never reached the point to kill")
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
