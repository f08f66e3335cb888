"""Outside JavaScript checkers run by node: Mozilla's ical.js, Deque's axe-core.

The npm packages are installed once into ``tests/.node/`` (git-ignored) with
``npm install --prefix``, pinned to the versions below. Where node or npm is
missing or the npm registry cannot be reached the tests skip with the reason;
``IA_EVENTS_REQUIRE_NODE=1`` (set by ``.ci/run``) turns that skip into a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from tests.conftest import ROOT, skip_or_fail

NODE_DIR = ROOT / "tests" / ".node"
PACKAGES = {"ical.js": "2.2.1", "axe-core": "4.14.1"}


def _installed(name: str, version: str) -> bool:
    meta = NODE_DIR / "node_modules" / name / "package.json"
    return meta.is_file() and json.loads(meta.read_text()).get("version") == version


def node_modules(*names: str) -> Path:
    """``tests/.node/node_modules`` holding the named packages (installed when missing)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        skip_or_fail("NODE", "node/npm not installed")
    missing = [f"{n}@{PACKAGES[n]}" for n in names if not _installed(n, PACKAGES[n])]
    if missing:
        NODE_DIR.mkdir(parents=True, exist_ok=True)
        run = subprocess.run(
            [str(npm), "install", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund", *missing],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if run.returncode != 0:
            skip_or_fail("NODE", f"npm install {' '.join(missing)} failed: {run.stderr[-500:]}")
    return NODE_DIR / "node_modules"


def run_node(script: str, stdin: bytes, *packages: str) -> str:
    """Run ``script`` (CommonJS) with node, the named packages resolvable; its stdout."""
    modules = node_modules(*packages)
    run = subprocess.run(
        [shutil.which("node") or "node", "-e", script],
        input=stdin,
        capture_output=True,
        timeout=120,
        env={**os.environ, "NODE_PATH": str(modules)},
    )
    assert run.returncode == 0, run.stderr.decode()
    return run.stdout.decode()
