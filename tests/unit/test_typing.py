"""Types are checked (mypy in .ci/run); every ``type: ignore`` left says which error
it silences and why, on its line or the comment line above it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IGNORE = re.compile(r"#\s*type:\s*ignore(\[[a-z-, ]+\])?(.*)$")


def unexplained(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    faults = []
    for no, line in enumerate(lines, 1):
        m = IGNORE.search(line)
        if not m:
            continue
        reason_after = m.group(2).strip().lstrip("#").strip()
        above = lines[no - 2].strip() if no > 1 else ""
        if not m.group(1) or not (reason_after or above.startswith("#")):
            faults.append(f"{path.relative_to(ROOT)}:{no}")
    return faults


def test_every_type_ignore_names_its_code_and_reason() -> None:
    faults = [f for d in ("ia_events", "storage") for p in (ROOT / d).rglob("*.py")
              for f in unexplained(p)]  # fmt: skip
    assert not faults, "\n".join(faults)


def test_the_check_finds_a_bare_ignore(tmp_path: Path) -> None:
    global ROOT
    bad = tmp_path / "m.py"
    bad.write_text("x = 1\ny: str = x  # type: ignore[assignment]\nz = 2  # type: ignore\n")
    old, ROOT = ROOT, tmp_path
    try:
        assert unexplained(bad) == ["m.py:2", "m.py:3"]
    finally:
        ROOT = old
