"""The one way services open a transaction, translating database outages into ``ServiceUnavailable``.

Callers of the services must not depend on SQLAlchemy or driver exceptions: an unreachable or locked
database becomes :class:`ServiceUnavailable` (the caller apologises and retries later); integrity errors
and programming errors are not translated (they are bugs or handled inside the service).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from bot.db.session import session_scope
from bot.services.errors import ServiceUnavailable

log = logging.getLogger(__name__)


def is_unavailable_error(error: BaseException) -> bool:
    """True if ``error`` means "the database cannot serve us right now" rather than a bug."""
    if isinstance(error, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)):
        return True
    return isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated


@contextmanager
def transaction(*, write: bool = False) -> Iterator[Session]:
    """A committed-or-rolled-back session; database outages raise :class:`ServiceUnavailable`."""
    try:
        with session_scope(write=write) as session:
            yield session
    except ServiceUnavailable:
        raise
    except Exception as error:
        if is_unavailable_error(error):
            # Log the class only: driver messages can echo SQL parameters (personal data).
            log.warning("database unavailable: %s", type(error).__name__)
            raise ServiceUnavailable("database unavailable") from error
        raise


def utcnow() -> datetime:
    """Timezone-aware now in UTC (the only clock services use, so tests can pass explicit times)."""
    return datetime.now(UTC)
