"""Imports go one way: pages, cli, web, demo -> domain packages -> core -> storage.

An AST walk over every module (imports inside functions included, since a late
import is still a dependency): a wrong-way import, a cycle between packages, or a
UI/HTTP framework below the entry points fails here with the offending module named.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENTRY = {"cli", "web", "demo"}  # entry points inside ia_events/
FRAMEWORKS = {"streamlit": set(), "starlette": {"web"}, "uvicorn": {"web"}, "click": {"cli"}}


def _imports(path: Path) -> list[str]:
    out: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
        elif isinstance(node, ast.Import):
            out.extend(a.name for a in node.names)
    return out


def _unit(path: Path) -> str:
    """``storage``, ``core``, a domain package, an entry package, or ``pages``."""
    rel = path.relative_to(ROOT).parts
    if rel[0] == "ia_events":
        return rel[1] if len(rel) > 2 else "ia_events"
    return rel[0] if rel[0] in ("storage", "pages") else "streamlit_app"


def _target(name: str) -> str | None:
    parts = name.split(".")
    if parts[0] == "storage":
        return "storage"
    if parts[0] == "ia_events" and len(parts) > 1:
        return parts[1]
    return None


def _edges(roots: list[Path]) -> list[tuple[str, str, str]]:
    """(from unit, to unit or framework, module path) for every import."""
    out = []
    for root in roots:
        files = [root] if root.is_file() else sorted(root.rglob("*.py"))
        for path in files:
            src = _unit(path)
            for name in _imports(path):
                top = name.split(".")[0]
                if top in FRAMEWORKS:
                    out.append((src, "framework:" + top, str(path.relative_to(ROOT))))
                dst = _target(name)
                if dst and dst != src:
                    out.append((src, dst, str(path.relative_to(ROOT))))
    return out


def wrong_way(edges: list[tuple[str, str, str]]) -> list[str]:
    faults = []
    for src, dst, where in edges:
        if dst.startswith("framework:"):
            framework = dst.split(":", 1)[1]
            if src in ("pages", "streamlit_app"):
                continue
            if src not in FRAMEWORKS[framework]:
                faults.append(f"{where} imports {framework} (only entry points may)")
        elif src == "storage":
            faults.append(f"{where} imports ia_events.{dst} (storage imports nothing above it)")
        elif src == "core" and dst != "storage":
            faults.append(f"{where} imports ia_events.{dst} (core imports only storage)")
        elif dst in ENTRY and src not in ENTRY | {"pages", "streamlit_app"}:
            faults.append(f"{where} imports the entry point ia_events.{dst}")
    return faults


def cycles(edges: list[tuple[str, str, str]]) -> list[list[str]]:
    graph: dict[str, set[str]] = {}
    for src, dst, _ in edges:
        if not dst.startswith("framework:"):
            graph.setdefault(src, set()).add(dst)
    found: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt in path:
                cycle = [*path[path.index(nxt) :], nxt]
                if sorted(cycle[:-1]) not in [sorted(c[:-1]) for c in found]:
                    found.append(cycle)
            else:
                visit(nxt, [*path, nxt])

    for start in sorted(graph):
        visit(start, [start])
    return found


def project_edges() -> list[tuple[str, str, str]]:
    roots = [ROOT / "ia_events", ROOT / "storage", ROOT / "pages", ROOT / "streamlit_app.py"]
    return _edges(roots)


def test_imports_go_one_way() -> None:
    faults = wrong_way(project_edges())
    assert not faults, "\n".join(faults)


def test_no_cycles_between_packages() -> None:
    found = cycles(project_edges())
    assert not found, "\n".join(" -> ".join(c) for c in found)


@pytest.mark.parametrize(
    ("edge", "fault"),
    [
        (("planning", "demo", "ia_events/planning/x.py"), "entry point"),
        (("core", "archive", "ia_events/core/x.py"), "core imports only storage"),
        (("storage", "core", "storage/x.py"), "storage imports nothing"),
        (("archive", "framework:streamlit", "ia_events/archive/x.py"), "only entry points"),
        (("cli", "framework:starlette", "ia_events/cli/x.py"), "only entry points"),
    ],
)
def test_the_guard_names_a_wrong_way_import(edge: tuple[str, str, str], fault: str) -> None:
    assert fault in " ".join(wrong_way([edge]))


def test_the_guard_finds_a_cycle() -> None:
    edges = [("a", "b", "x"), ("b", "c", "y"), ("c", "a", "z"), ("c", "core", "w")]
    assert cycles(edges) == [["a", "b", "c", "a"]]
