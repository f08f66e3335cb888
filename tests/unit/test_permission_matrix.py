"""Every service declares its permission once (``@service``), the declaration is the
one the service enforces, and the table in docs/security.md is the registry's."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import runpy
from pathlib import Path

import pytest

import ia_events
from ia_events.core.access import ROLE_PERMISSIONS, Permission
from ia_events.core.models import Role
from ia_events.core.permissions import Reach, Rule, registry, service, service_name

ROOT = Path(__file__).resolve().parents[2]
# The permission mechanism itself takes actors without being a service.
MECHANISM = {"ia_events.core.access", "ia_events.core.permissions"}


def functions_with_actor() -> dict[str, object]:
    """Public module-level functions of ia_events with a parameter named ``actor``."""
    found: dict[str, object] = {}
    for info in pkgutil.walk_packages(ia_events.__path__, prefix="ia_events."):
        if info.ispkg or info.name in MECHANISM:
            continue
        mod = importlib.import_module(info.name)
        for name, obj in vars(mod).items():
            if (
                inspect.isfunction(obj)
                and obj.__module__ == mod.__name__
                and not name.startswith("_")
                and "actor" in inspect.signature(obj).parameters
            ):
                found[service_name(obj)] = obj
    return found


def test_every_service_with_an_actor_declares_its_permission() -> None:
    missing = [name for name, fn in functions_with_actor().items() if not hasattr(fn, "__rule__")]
    assert not missing, f"add @service(...) to: {sorted(missing)}"


def test_the_registry_holds_exactly_the_declared_services() -> None:
    assert set(registry()) == set(functions_with_actor())


def _reachable_sources(fn: object, depth: int = 3) -> list[str]:
    """The function's body and those of the functions it calls by name (same module,
    or a registered service), a few levels deep -- where its permission check is."""
    by_name = _functions_by_name()
    seen: set[int] = set()
    out: list[str] = []
    todo = [(fn, 0)]
    while todo:
        f, level = todo.pop()
        if id(f) in seen:
            continue
        seen.add(id(f))
        src = inspect.getsource(f)  # type: ignore[arg-type]
        body = src.split("\ndef ", 1)[-1]  # without the @service line itself
        out.append(body)
        if level == depth:
            continue
        for name in set(re.findall(r"\b([A-Za-z_]\w*)\(", body)):
            todo.extend((callee, level + 1) for callee in by_name.get(name, ()))
    return out


def _functions_by_name() -> dict[str, list[object]]:
    """Every module-level function of ia_events by its name (private ones too)."""
    out: dict[str, list[object]] = {}
    for info in pkgutil.walk_packages(ia_events.__path__, prefix="ia_events."):
        mod = importlib.import_module(info.name)
        for name, obj in vars(mod).items():
            if inspect.isfunction(obj) and obj.__module__ == mod.__name__:
                out.setdefault(name, []).append(obj)
    return out


def test_the_declared_permission_is_the_one_the_service_checks() -> None:
    # Cheap guard against a wrong declaration: the service (or what it calls) names
    # the permission it declares; the tenancy tests check the behaviour itself.
    functions = functions_with_actor()
    for name, rule in registry().items():
        if rule.permission is None:
            continue
        texts = _reachable_sources(functions[name])
        assert any(f"Permission.{rule.permission.name}" in t for t in texts), name


def test_an_undeclared_service_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    # The guard really fails: a new public function with an actor, undeclared.
    from ia_events.planning import plans

    def new_service(session, actor):  # type: ignore[no-untyped-def]
        return None

    new_service.__module__ = plans.__name__
    new_service.__qualname__ = "new_service"
    monkeypatch.setattr(plans, "new_service", new_service, raising=False)
    found = functions_with_actor()
    assert "planning.plans.new_service" in found
    assert not hasattr(found["planning.plans.new_service"], "__rule__")


def test_the_decorator_registers_without_wrapping() -> None:
    def probe(session, actor):  # type: ignore[no-untyped-def]
        return "same function"

    declared = service(Permission.agency_read, Reach.agency, "probe")(probe)
    try:
        assert declared is probe
        assert registry()[service_name(probe)] == Rule(
            Permission.agency_read, Reach.agency, "probe"
        )
    finally:
        from ia_events.core.permissions import REGISTRY

        REGISTRY.pop(service_name(probe))


def test_rules_follow_the_role_permissions() -> None:
    rule = Rule(Permission.evidence_read, Reach.agency)
    assert rule.allows(Role.specialist) and rule.allows(Role.coordinator)
    assert not rule.allows(Role.volunteer) and not rule.allows(Role.admin)
    assert rule.across_agencies(Role.coordinator) and not rule.across_agencies(Role.specialist)
    for role, perms in ROLE_PERMISSIONS.items():
        for perm in Permission:
            assert Rule(perm, Reach.installation).allows(role) == (perm in perms)


def test_security_doc_holds_the_current_matrix() -> None:
    mod = runpy.run_path(str(ROOT / "scripts" / "security_matrix.py"), run_name="security_matrix")
    doc = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    assert mod["render"](doc) == doc, "run: python scripts/security_matrix.py --write"
