"""Console staff accounts: argon2 password hashes, server-side sessions, login rate limiting.

Why server-side sessions rather than a self-contained signed cookie: logout, password change and
deactivating a user must take effect at once, on every device. The cookie carries a random token signed
with ``settings.secret_key``; the database stores only the token's SHA-256, so a copy of the database
cannot be replayed as a session.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select, update

from bot.db.models_console import STAFF_ROLES, LoginAttempt, StaffSession, StaffUser
from bot.services.errors import InvalidInput
from bot.services.tx import transaction, utcnow

Role = Literal["agent", "marketer", "admin"]

#: Failed logins allowed per account+IP within the window before further attempts are refused.
MAX_FAILURES_PER_ACCOUNT_IP = 5
#: Failed logins allowed per IP (any account) within the window: slows password spraying.
MAX_FAILURES_PER_IP = 30
FAILURE_WINDOW = timedelta(minutes=15)
#: A session ends after this long without activity, and at the latest after SESSION_MAX_AGE.
SESSION_IDLE_TIMEOUT = timedelta(hours=8)
SESSION_MAX_AGE = timedelta(hours=24)
#: last_seen_at is refreshed at most this often (saves a write per request).
_TOUCH_EVERY = timedelta(minutes=1)
MIN_PASSWORD_LENGTH = 10


def production_hasher() -> PasswordHasher:
    """argon2id with RFC 9106's second recommended parameters (3 passes, 64 MiB, 4 lanes), pinned here
    rather than left to library defaults so an upgrade cannot silently weaken them."""
    return PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=4)


_hasher = production_hasher()
# A real hash to verify against when the account does not exist, so response time does not reveal
# which e-mail addresses have accounts.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class StaffAccount:
    id: int
    email: str
    display_name: str
    role: Role
    is_active: bool
    ui_language: str
    created_at: datetime
    last_login_at: datetime | None


@dataclass(frozen=True)
class SessionInfo:
    session_id: int
    user: StaffAccount
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True)
class LoginResult:
    status: Literal["ok", "invalid", "rate_limited"]
    token: str | None = None
    user: StaffAccount | None = None
    retry_after_s: int | None = None


def _account(row: StaffUser) -> StaffAccount:
    return StaffAccount(
        id=row.id,
        email=row.email,
        display_name=row.display_name,
        role=row.role,  # type: ignore[arg-type]
        is_active=row.is_active,
        ui_language=row.ui_language,
        created_at=row.created_at,
        last_login_at=row.last_login_at,
    )


def normalize_email(email: str) -> str:
    return email.strip().lower()


def hash_password(password: str) -> str:
    """An argon2id hash (salted, parameters embedded in the string)."""
    check_password_policy(password)
    return _hasher.hash(password)


def check_password_policy(password: str) -> None:
    """Length is what matters for passphrases; we refuse short ones and nothing else (NIST 800-63B)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput("password_too_short", f"password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > 1024:
        raise InvalidInput("password_too_long")


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(
    email: str, password: str, role: str, display_name: str | None = None, *, ui_language: str = "tr"
) -> StaffAccount:
    """Create a console user; ``InvalidInput`` for a bad role/e-mail/password or an existing e-mail."""
    email = normalize_email(email)
    if role not in STAFF_ROLES:
        raise InvalidInput("invalid_role", f"role must be one of {STAFF_ROLES}")
    if "@" not in email or len(email) > 254 or email.startswith("@"):
        raise InvalidInput("invalid_email")
    password_hash = hash_password(password)
    now = utcnow()
    with transaction(write=True) as session:
        if session.scalar(select(StaffUser.id).where(StaffUser.email == email)) is not None:
            raise InvalidInput("email_taken")
        row = StaffUser(
            email=email,
            display_name=(display_name or email.split("@")[0])[:100],
            role=role,
            password_hash=password_hash,
            is_active=True,
            ui_language=ui_language if ui_language in ("tr", "en") else "tr",
            created_at=now,
            updated_at=now,
            password_changed_at=now,
        )
        session.add(row)
        session.flush()
        return _account(row)


def list_users() -> list[StaffAccount]:
    with transaction() as session:
        return [_account(r) for r in session.scalars(select(StaffUser).order_by(StaffUser.email))]


def get_user(user_id: int) -> StaffAccount | None:
    with transaction() as session:
        row = session.get(StaffUser, user_id)
        return _account(row) if row else None


def display_names(user_ids: set[int]) -> dict[int, str]:
    """id -> display name, for showing who did what."""
    if not user_ids:
        return {}
    with transaction() as session:
        rows = session.execute(select(StaffUser.id, StaffUser.display_name).where(StaffUser.id.in_(user_ids)))
        return {r.id: r.display_name for r in rows}


def count_admins() -> int:
    with transaction() as session:
        return (
            session.scalar(
                select(func.count()).select_from(StaffUser).where(StaffUser.role == "admin", StaffUser.is_active)
            )
            or 0
        )


def update_user(user_id: int, *, role: str | None = None, is_active: bool | None = None) -> StaffAccount:
    """Change role or (de)activate; deactivation ends the user's sessions. The last admin cannot be demoted."""
    with transaction(write=True) as session:
        row = session.get(StaffUser, user_id)
        if row is None:
            raise InvalidInput("unknown_user")
        demotes_admin = (
            row.role == "admin" and row.is_active and ((role is not None and role != "admin") or is_active is False)
        )
        if demotes_admin:
            admins = session.scalar(
                select(func.count()).select_from(StaffUser).where(StaffUser.role == "admin", StaffUser.is_active)
            )
            if (admins or 0) <= 1:
                raise InvalidInput("last_admin")
        if role is not None:
            if role not in STAFF_ROLES:
                raise InvalidInput("invalid_role")
            row.role = role
        if is_active is not None:
            row.is_active = is_active
            if not is_active:
                session.execute(delete(StaffSession).where(StaffSession.user_id == user_id))
        row.updated_at = utcnow()
        return _account(row)


def set_ui_language(user_id: int, language: str) -> None:
    if language not in ("tr", "en"):
        raise InvalidInput("invalid_language")
    with transaction(write=True) as session:
        session.execute(update(StaffUser).where(StaffUser.id == user_id).values(ui_language=language))


def set_password(user_id: int, new_password: str, *, keep_session_id: int | None = None) -> None:
    """Set a new password (admin reset or own change) and end every other session of the user."""
    password_hash = hash_password(new_password)
    now = utcnow()
    with transaction(write=True) as session:
        result = session.execute(
            update(StaffUser)
            .where(StaffUser.id == user_id)
            .values(password_hash=password_hash, password_changed_at=now, updated_at=now)
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise InvalidInput("unknown_user")
        stmt = delete(StaffSession).where(StaffSession.user_id == user_id)
        if keep_session_id is not None:
            stmt = stmt.where(StaffSession.id != keep_session_id)
        session.execute(stmt)


def change_own_password(user_id: int, current_password: str, new_password: str, session_id: int) -> None:
    """The user's own change: the current password must be right (``InvalidInput("wrong_password")``)."""
    with transaction() as session:
        row = session.get(StaffUser, user_id)
        if row is None or not verify_password(row.password_hash, current_password):
            raise InvalidInput("wrong_password")
    if current_password == new_password:
        raise InvalidInput("password_unchanged")
    set_password(user_id, new_password, keep_session_id=session_id)


def login(email: str, password: str, ip: str, *, user_agent: str | None = None) -> LoginResult:
    """Check the credentials under the rate limit and open a session.

    Failures are counted per account+IP (and per IP) in a sliding 15-minute window stored in the database,
    so the limit holds across worker processes and restarts. While limited, the password is not even
    checked (a correct guess must not be distinguishable).
    """
    email = normalize_email(email)[:254]
    ip = (ip or "unknown")[:45]
    now = utcnow()
    since = now - FAILURE_WINDOW
    with transaction(write=True) as session:
        failures_account = session.scalars(
            select(LoginAttempt.attempted_at)
            .where(
                LoginAttempt.email == email,
                LoginAttempt.ip == ip,
                LoginAttempt.succeeded.is_(False),
                LoginAttempt.attempted_at >= since,
            )
            .order_by(LoginAttempt.attempted_at)
        ).all()
        failures_ip = (
            session.scalar(
                select(func.count())
                .select_from(LoginAttempt)
                .where(LoginAttempt.ip == ip, LoginAttempt.succeeded.is_(False), LoginAttempt.attempted_at >= since)
            )
            or 0
        )
        if len(failures_account) >= MAX_FAILURES_PER_ACCOUNT_IP or failures_ip >= MAX_FAILURES_PER_IP:
            oldest = failures_account[0] if len(failures_account) >= MAX_FAILURES_PER_ACCOUNT_IP else since
            retry = max(1, int((oldest + FAILURE_WINDOW - now).total_seconds()))
            return LoginResult(status="rate_limited", retry_after_s=retry)

        row = session.scalar(select(StaffUser).where(StaffUser.email == email))
        ok = verify_password(row.password_hash if row else _DUMMY_HASH, password)
        ok = ok and row is not None and row.is_active
        session.add(LoginAttempt(email=email, ip=ip, succeeded=ok, attempted_at=now))
        if not ok or row is None:
            return LoginResult(status="invalid")
        if _hasher.check_needs_rehash(row.password_hash):
            row.password_hash = _hasher.hash(password)
        row.last_login_at = now
        token = secrets.token_urlsafe(32)
        session.add(
            StaffSession(
                token_hash=_token_hash(token),
                user_id=row.id,
                csrf_token=secrets.token_urlsafe(32),
                created_at=now,
                last_seen_at=now,
                expires_at=now + SESSION_MAX_AGE,
                ip=ip,
                user_agent=(user_agent or "")[:200] or None,
            )
        )
        # Old attempts are only useful inside the window; prune them as we go.
        session.execute(delete(LoginAttempt).where(LoginAttempt.attempted_at < now - timedelta(days=1)))
        return LoginResult(status="ok", token=token, user=_account(row))


def resolve_session(token: str, *, now: datetime | None = None) -> SessionInfo | None:
    """The live session for a cookie token, or None (unknown, expired, idle too long, user deactivated)."""
    now = now or utcnow()
    with transaction() as session:
        row = session.execute(
            select(StaffSession, StaffUser)
            .join(StaffUser, StaffUser.id == StaffSession.user_id)
            .where(StaffSession.token_hash == _token_hash(token))
        ).first()
        if row is None:
            return None
        sess, user = row
        if not user.is_active or sess.expires_at <= now or sess.last_seen_at + SESSION_IDLE_TIMEOUT <= now:
            return None
        info = SessionInfo(
            session_id=sess.id, user=_account(user), csrf_token=sess.csrf_token, expires_at=sess.expires_at
        )
        stale = sess.last_seen_at + _TOUCH_EVERY <= now
    if stale:
        with transaction(write=True) as session:
            session.execute(update(StaffSession).where(StaffSession.id == info.session_id).values(last_seen_at=now))
    return info


def logout(token: str) -> None:
    with transaction(write=True) as session:
        session.execute(delete(StaffSession).where(StaffSession.token_hash == _token_hash(token)))


def purge_expired_sessions(now: datetime | None = None) -> int:
    now = now or utcnow()
    with transaction(write=True) as session:
        result = session.execute(delete(StaffSession).where(StaffSession.expires_at <= now))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class AuditEntry:
    id: int
    actor: str
    action: str
    entity: str
    entity_id: str | None
    details: dict
    created_at: datetime


def audit_entries(
    *,
    actor: str | None = None,
    entity: str | None = None,
    entity_id: str | None = None,
    action_prefix: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """The audit trail, newest first (keyset on id), for the admin's audit page."""
    from bot.db.models import AuditLog

    stmt = select(AuditLog).order_by(AuditLog.id.desc()).limit(max(1, min(limit, 500)))
    if actor:
        stmt = stmt.where(AuditLog.actor == actor)
    if entity:
        stmt = stmt.where(AuditLog.entity == entity)
    if entity_id:
        stmt = stmt.where(AuditLog.entity_id == entity_id)
    if action_prefix:
        stmt = stmt.where(AuditLog.action.like(action_prefix.replace("%", "") + "%"))
    if before_id:
        stmt = stmt.where(AuditLog.id < before_id)
    with transaction() as session:
        return [
            AuditEntry(r.id, r.actor, r.action, r.entity, r.entity_id, dict(r.details or {}), r.created_at)
            for r in session.scalars(stmt)
        ]
