"""The permission registry covers every service, names real permissions, and the
table in docs/security.md is the one the registry prints."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import ia_events
from ia_events.core.access import ROLE_PERMISSIONS, Permission
from ia_events.core.models import Role
from ia_events.core.service_matrix import MECHANISM_MODULES, SERVICES, Reach, Rule

ROOT = Path(__file__).resolve().parents[2]


def services_with_actor() -> set[str]:
    """Module-level public functions in ia_events with a parameter named ``actor``,
    named ``package.module.function``."""
    found: set[str] = set()
    for info in pkgutil.walk_packages(ia_events.__path__, prefix="ia_events."):
        key = info.name.removeprefix("ia_events.")
        if info.ispkg or key in MECHANISM_MODULES:
            continue
        mod = importlib.import_module(info.name)
        for name, obj in vars(mod).items():
            if (
                inspect.isfunction(obj)
                and obj.__module__ == mod.__name__
                and not name.startswith("_")
                and "actor" in inspect.signature(obj).parameters
            ):
                found.add(f"{key}.{name}")
    return found


def test_every_service_with_an_actor_has_an_entry() -> None:
    missing = services_with_actor() - set(SERVICES)
    assert not missing, f"add these to ia_events/core/service_matrix.py: {sorted(missing)}"


def test_no_entry_names_a_service_that_is_gone() -> None:
    stale = set(SERVICES) - services_with_actor()
    assert not stale, f"remove from ia_events/core/service_matrix.py: {sorted(stale)}"


def _source(module: str) -> str:
    return (ROOT / "ia_events" / f"{module.replace('.', '/')}.py").read_text(encoding="utf-8")


def test_the_named_permission_is_the_one_the_module_checks() -> None:
    # Cheap guard against a wrong entry: the module that holds the service must
    # mention the permission it is registered with (directly or via a helper it calls).
    for name, rule in SERVICES.items():
        if rule.permission is None:
            continue
        module = name.rsplit(".", 1)[0]
        src = _source(module)
        callees = [
            m for m in SERVICES if m.rsplit(".", 1)[1] in src and m.rsplit(".", 1)[0] != module
        ]
        srcs = [src] + [_source(c.rsplit(".", 1)[0]) for c in callees]
        assert any(f"Permission.{rule.permission.name}" in s for s in srcs), name


def test_unregistered_service_is_caught(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # The guard really fails: a new service in a module is reported as missing.
    from ia_events.planning import plans

    def new_service(session, actor):  # type: ignore[no-untyped-def]
        return None

    new_service.__module__ = plans.__name__
    monkeypatch.setattr(plans, "new_service", new_service, raising=False)
    assert "planning.plans.new_service" in services_with_actor() - set(SERVICES)


def test_rules_follow_the_role_permissions() -> None:
    rule = Rule(Permission.evidence_read, Reach.agency)
    assert rule.allows(Role.specialist) and rule.allows(Role.coordinator)
    assert not rule.allows(Role.volunteer) and not rule.allows(Role.admin)
    assert rule.across_agencies(Role.coordinator) and not rule.across_agencies(Role.specialist)
    for role, perms in ROLE_PERMISSIONS.items():
        for perm in Permission:
            assert Rule(perm, Reach.installation).allows(role) == (perm in perms)


def test_security_doc_holds_the_current_matrix() -> None:
    import runpy

    mod = runpy.run_path(str(ROOT / "scripts" / "security_matrix.py"), run_name="security_matrix")
    doc = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    assert mod["render"](doc) == doc, "run: python scripts/security_matrix.py --write"
