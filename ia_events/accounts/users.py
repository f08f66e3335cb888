"""Local accounts, logins and sessions.

Passwords are hashed with Argon2id. Ten wrong passwords in a row lock an
account for a while; the counter lives in the database, so a fresh browser
session does not reset it. Accounts are deactivated, never deleted.

A login is a ``UserSession`` row; the browser holds a random token (in the
Streamlit session, and as an HttpOnly cookie fetched with a one-time
hand-off code) and we store only its SHA-256.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ia_events.core import audit
from ia_events.core.access import Actor, Permission, require
from ia_events.core.audit import Action
from ia_events.core.errors import AuthError, Conflict, DomainError, InvalidInput, NotFound
from ia_events.core.installation import Installation, Settings
from ia_events.core.models import Agency, Role, User, UserSession
from ia_events.core.permissions import Reach, service
from storage.db import utcnow

_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile
_DUMMY_HASH = _hasher.hash("not-a-password-of-anyone")
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,59}$")

# The most common passwords and patterns in German and English breach lists.
COMMON_PASSWORDS = frozenset(
    [
        "123456789012",
        "1234567890123",
        "passwort1234",
        "password1234",
        "qwertzuiop12",
        "qwertyuiop12",
        "hallo1234567",
        "passwortpasswort",
        "passwordpassword",
        "111111111111",
        "000000000000",
        "abcdefghijkl",
        "ichliebedich1",
        "iloveyou1234",
        "sommer202020",
        "winter202020",
        "fussball1234",
        "schalke04schalke",
        "borussia1909",
        "integration1",
        "ehrenamt1234",
        "willkommen12",
        "welcome12345",
        "letmein12345",
        "administrator",
        "adminadmin12",
    ]
)


@dataclass(frozen=True)
class UserView:
    id: int
    username: str
    display_name: str
    role: str
    agency_slug: str | None
    active: bool
    locked: bool
    last_login_at: datetime | None


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_password_rules(settings: Settings, password: str, username: str = "") -> None:
    """Length and a blocklist, no composition rules (NIST SP 800-63B, BSI ORP.4)."""
    if len(password) < settings.min_password_length:
        raise InvalidInput("password_too_short", min=settings.min_password_length)
    if len(password) > 256:
        raise InvalidInput("password_too_long", max=256)
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS or len(set(password)) < 4:
        raise InvalidInput("password_common")
    if username and len(username) >= 3 and username.lower() in lowered:
        raise InvalidInput("password_contains_username")


def _validate_role_agency(session: Session, role: str, agency_slug: str | None) -> int | None:
    try:
        r = Role(role)
    except ValueError as exc:
        raise InvalidInput("role_unknown", role=role) from exc
    if r in (Role.specialist, Role.volunteer):
        if not agency_slug:
            raise InvalidInput("agency_required", role=role)
        agency_id = session.scalar(select(Agency.id).where(Agency.slug == agency_slug))
        if agency_id is None:
            raise NotFound(what=f"Die Integrationsagentur „{agency_slug}“")
        return agency_id
    if agency_slug:
        raise InvalidInput("agency_not_allowed", role=role)
    return None


@service(Permission.users_manage, Reach.installation)
def add_user(
    session: Session,
    actor: Actor,
    settings: Settings,
    *,
    username: str,
    password: str,
    role: str,
    agency_slug: str | None = None,
    display_name: str | None = None,
    volunteer_id: int | None = None,
    must_change_password: bool = False,
) -> User:
    require(actor, Permission.users_manage)
    username = username.strip().lower()
    if not USERNAME_RE.match(username):
        raise InvalidInput("username_invalid")
    agency_id = _validate_role_agency(session, role, agency_slug)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict("username_taken", username=username)
    check_password_rules(settings, password, username)
    user = User(
        username=username,
        display_name=(display_name or username).strip()[:200],
        role=role,
        agency_id=agency_id,
        volunteer_id=volunteer_id,
        password_hash=_hasher.hash(password),
        password_changed_at=utcnow(),
        must_change_password=must_change_password,
    )
    session.add(user)
    session.flush()
    audit.record(
        session, actor.name, Action.user_add, "user", user.id, agency_id=agency_id, role=role
    )
    return user


@service(Permission.users_manage, Reach.installation)
def list_users(session: Session, actor: Actor) -> list[UserView]:
    require(actor, Permission.users_manage)
    now = utcnow()
    rows = session.execute(
        select(User, Agency.slug)
        .outerjoin(Agency, User.agency_id == Agency.id)
        .order_by(User.role, User.username)
    ).all()
    return [
        UserView(
            u.id,
            u.username,
            u.display_name,
            u.role,
            slug,
            u.active,
            bool(u.locked_until and u.locked_until > now),
            u.last_login_at,
        )
        for u, slug in rows
    ]


def user_id_by_name(session: Session, username: str) -> int:
    uid = session.scalar(select(User.id).where(User.username == username.strip().lower()))
    if uid is None:
        raise NotFound(what=f"Das Konto „{username}“")
    return uid


@service(Permission.users_manage, Reach.installation)
def set_active(session: Session, actor: Actor, user_id: int, active: bool) -> None:
    require(actor, Permission.users_manage)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(what="Das Konto")
    if not active and user.role == Role.admin and user.active:
        admins = session.scalar(
            select(func.count()).select_from(User).where(User.role == Role.admin, User.active)
        )
        if (admins or 0) <= 1:
            raise Conflict("last_admin")
    user.active = active
    if not active:
        _revoke_all(session, user.id)
    audit.record(
        session,
        actor.name,
        Action.user_reactivate if active else Action.user_deactivate,
        "user",
        user.id,
        agency_id=user.agency_id,
    )


@service(Permission.users_manage, Reach.installation)
def reset_password(
    session: Session, actor: Actor, settings: Settings, user_id: int, new_password: str
) -> None:
    """Admin sets a temporary password; the user must change it at next login."""
    require(actor, Permission.users_manage)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(what="Das Konto")
    check_password_rules(settings, new_password, user.username)
    user.password_hash = _hasher.hash(new_password)
    user.password_changed_at = utcnow()
    user.must_change_password = True
    user.failed_logins = 0
    user.locked_until = None
    _revoke_all(session, user.id)
    audit.record(
        session, actor.name, Action.user_password_reset, "user", user.id, agency_id=user.agency_id
    )


@service(None, Reach.own, "needs the old password")
def change_own_password(
    session: Session,
    actor: Actor,
    settings: Settings,
    old: str,
    new: str,
    keep_token: str | None = None,
) -> None:
    """Change one's own password; every other session of the account ends (whoever
    knew the old password is logged out), only the one holding ``keep_token`` stays."""
    if actor.user_id is None:
        raise NotFound(what="Das Konto")
    user = session.get(User, actor.user_id)
    if user is None or not user.password_hash:
        raise NotFound(what="Das Konto")
    try:
        _hasher.verify(user.password_hash, old)
    except (VerificationError, InvalidHashError) as exc:
        raise AuthError("password_wrong") from exc
    check_password_rules(settings, new, user.username)
    user.password_hash = _hasher.hash(new)
    user.password_changed_at = utcnow()
    user.must_change_password = False
    _revoke_all(session, user.id, keep_hash=_sha(keep_token) if keep_token else None)
    audit.record(
        session, actor.name, Action.user_password_change, "user", user.id, agency_id=user.agency_id
    )


# -- login and sessions ----------------------------------------------------------------------


@dataclass(frozen=True)
class Login:
    token: str
    actor: Actor


def _actor_for(user: User) -> Actor:
    return Actor(
        name=user.username,
        role=Role(user.role),
        user_id=user.id,
        agency_id=user.agency_id,
        volunteer_id=user.volunteer_id,
        display_name=user.display_name,
    )


def login(inst: Installation, username: str, password: str, now: datetime | None = None) -> Login:
    """Check a password and open a session. Failed attempts are committed, then refused.

    An unknown name, a wrong password, a locked and a deactivated account all get
    the same answer (``login_invalid``) after the same work (one Argon2 verify), so
    neither the text nor the time tells an outsider which user names exist.
    """
    now = now or utcnow()
    settings = inst.settings
    username = (username or "").strip().lower()[:80]
    refusal: AuthError | None = None
    with inst.db.write() as s:
        user = s.scalar(select(User).where(User.username == username))
        if user is None or not user.password_hash:
            # Same work as a real check, so timing does not reveal which names exist.
            with contextlib.suppress(VerificationError):
                _hasher.verify(_DUMMY_HASH, password or "")
            raise AuthError("login_invalid")
        try:
            _hasher.verify(user.password_hash, password or "")
            ok = True
        except (VerificationError, InvalidHashError):
            ok = False
        if user.locked_until and user.locked_until > now:
            # Verified anyway (above), so a locked account answers as slowly as any other.
            refusal = AuthError("login_invalid")
        elif not ok:
            user.failed_logins += 1
            audit.record(
                s,
                "anonymous",
                Action.user_login_failed,
                "user",
                user.id,
                agency_id=user.agency_id,
                attempt=user.failed_logins,
            )
            if user.failed_logins >= settings.lockout_threshold:
                user.locked_until = now + timedelta(minutes=settings.lockout_minutes)
                user.failed_logins = 0
                audit.record(
                    s,
                    "system:lockout",
                    Action.user_locked,
                    "user",
                    user.id,
                    agency_id=user.agency_id,
                    minutes=settings.lockout_minutes,
                )
            refusal = AuthError("login_invalid")
        elif not user.active:
            refusal = AuthError("login_invalid")
        else:
            if _hasher.check_needs_rehash(user.password_hash):
                user.password_hash = _hasher.hash(password)
            user.failed_logins = 0
            user.last_login_at = now
            token = secrets.token_urlsafe(32)
            s.add(
                UserSession(
                    user_id=user.id,
                    token_hash=_sha(token),
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + timedelta(days=settings.session_max_days),
                )
            )
            audit.record(
                s, user.username, Action.user_login, "user", user.id, agency_id=user.agency_id
            )
            result = Login(token, _actor_for(user))
    if refusal is not None:
        raise refusal
    return result


def login_external(inst: Installation, email: str, now: datetime | None = None) -> Login | None:
    """Open a session for a user the OIDC provider vouched for (matched by e-mail)."""
    email = (email or "").strip().lower()
    if not email:
        return None
    now = now or utcnow()
    with inst.db.write() as s:
        user = s.scalar(select(User).where(func.lower(User.email) == email, User.active))
        if user is None:
            return None
        token = secrets.token_urlsafe(32)
        user.last_login_at = now
        s.add(
            UserSession(
                user_id=user.id,
                token_hash=_sha(token),
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(days=inst.settings.session_max_days),
            )
        )
        audit.record(
            s,
            user.username,
            Action.user_login,
            "user",
            user.id,
            agency_id=user.agency_id,
            method="oidc",
        )
        return Login(token, _actor_for(user))


def resolve(inst: Installation, token: str | None, now: datetime | None = None) -> Actor | None:
    """The actor behind a session token, or None if unknown, expired, revoked or inactive."""
    if not isinstance(token, str) or not token or len(token) > 200:
        return None
    now = now or utcnow()
    idle = timedelta(hours=inst.settings.session_idle_hours)
    with inst.db.read() as s:
        row = s.execute(
            select(UserSession, User)
            .join(User, User.id == UserSession.user_id)
            .where(UserSession.token_hash == _sha(token))
        ).first()
        if row is None:
            return None
        sess, user = row
        if sess.revoked_at or sess.expires_at <= now or sess.last_seen_at + idle <= now:
            return None
        if not user.active:
            return None
        actor = _actor_for(user)
        stale = now - sess.last_seen_at > timedelta(minutes=5)
        sid = sess.id
    if stale:
        # Bookkeeping, not a change of data: no audit event for a touch.
        with inst.db.write() as s:
            s.execute(update(UserSession).where(UserSession.id == sid).values(last_seen_at=now))
    return actor


@service(None, Reach.own, "reads the actor's own flag")
def must_change_password(inst: Installation, actor: Actor) -> bool:
    if actor.user_id is None:
        return False
    with inst.db.read() as s:
        return bool(s.scalar(select(User.must_change_password).where(User.id == actor.user_id)))


def _handoff_hash(code: str, binding: str) -> str:
    return _sha(f"{code}\x00{binding}")


def create_handoff(
    inst: Installation, token: str, binding: str, now: datetime | None = None
) -> str:
    """A one-time code (60 s) the browser trades for an HttpOnly session cookie.

    The code is bound to ``binding``, the random login cookie of the browser that
    logged in (``/auth/prepare`` sets it before the login form): the code alone is
    worth nothing in another browser, so nobody can log a victim into the
    attacker's account by sending the hand-off link (login CSRF).
    """
    if not binding or len(binding) < 16 or len(binding) > 100:
        raise AuthError("session_expired")
    now = now or utcnow()
    code = secrets.token_urlsafe(24)
    with inst.db.write() as s:
        sess = s.scalar(select(UserSession).where(UserSession.token_hash == _sha(token)))
        if sess is None or sess.revoked_at:
            raise AuthError("session_expired")
        sess.handoff_hash = _handoff_hash(code, binding)
        sess.handoff_expires_at = now + timedelta(seconds=60)
    return code


def redeem_handoff(
    inst: Installation, code: str, binding: str | None, now: datetime | None = None
) -> str | None:
    """Trade a hand-off code for a fresh session token (the old one stops working);
    only in the browser whose login cookie ``binding`` the code was made for."""
    if not code or len(code) > 100 or not binding or len(binding) > 100:
        return None
    now = now or utcnow()
    with inst.db.write() as s:
        sess = s.scalar(
            select(UserSession).where(UserSession.handoff_hash == _handoff_hash(code, binding))
        )
        if sess is None or sess.revoked_at or not sess.handoff_expires_at:
            return None
        if sess.handoff_expires_at <= now:
            return None
        token = secrets.token_urlsafe(32)
        sess.token_hash = _sha(token)
        sess.handoff_hash = None
        sess.handoff_expires_at = None
        sess.last_seen_at = now
        return token


def logout(inst: Installation, token: str | None, everywhere: bool = False) -> None:
    if not token:
        return
    with inst.db.write() as s:
        sess = s.scalar(select(UserSession).where(UserSession.token_hash == _sha(token)))
        if sess is None:
            return
        user = s.get(User, sess.user_id)
        if everywhere:
            _revoke_all(s, sess.user_id)
        else:
            sess.revoked_at = utcnow()
        audit.record(
            s,
            user.username if user else "unknown",
            Action.user_logout_all if everywhere else Action.user_logout,
            "user",
            sess.user_id,
            agency_id=user.agency_id if user else None,
        )


def _revoke_all(session: Session, user_id: int, keep_hash: str | None = None) -> None:
    query = update(UserSession).where(
        UserSession.user_id == user_id, UserSession.revoked_at.is_(None)
    )
    if keep_hash is not None:
        query = query.where(UserSession.token_hash != keep_hash)
    session.execute(query.values(revoked_at=utcnow()))


# -- first start ---------------------------------------------------------------------------------


def has_users(inst: Installation) -> bool:
    with inst.db.read() as s:
        return (s.scalar(select(func.count()).select_from(User)) or 0) > 0


def setup_token_path(settings: Settings) -> Path:
    return settings.data_dir / "setup-token.txt"


def ensure_setup_token(inst: Installation) -> str | None:
    """While there is no account, a one-time code (file 0600, printed on the console)."""
    if has_users(inst):
        return None
    path = setup_token_path(inst.settings)
    if not path.exists():
        import os

        token = "-".join(secrets.token_hex(3) for _ in range(4))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(token + "\n")
        print(
            f"\n  ia-events: noch kein Konto. Einrichtungs-Code für das erste "
            f"Administrator-Konto: {token}\n  (steht auch in {path})\n",
            flush=True,
        )
    return path.read_text().strip()


def check_setup_token(inst: Installation, setup_token: str) -> None:
    """Only whoever can read the server console (or ``setup-token.txt``) may set up a
    fresh installation: create the first admin or load the demo from the start page."""
    path = setup_token_path(inst.settings)
    expected = path.read_text().strip() if path.exists() else None
    if has_users(inst):
        raise Conflict("setup_done")
    if not expected or not secrets.compare_digest(
        expected.encode(), (setup_token or "").strip().encode()
    ):
        raise AuthError("setup_token_invalid")


def create_first_admin(
    inst: Installation, setup_token: str, username: str, password: str, display_name: str = ""
) -> User:
    check_setup_token(inst, setup_token)
    with inst.db.write() as s:
        user = add_user(
            s,
            Actor.cli("system:setup"),
            inst.settings,
            username=username,
            password=password,
            role="admin",
            display_name=display_name or username,
        )
    setup_token_path(inst.settings).unlink(missing_ok=True)
    return user


__all__ = [
    "DomainError",
    "Login",
    "UserView",
    "add_user",
    "change_own_password",
    "login",
    "logout",
    "resolve",
]
