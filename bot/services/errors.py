"""Service-layer exceptions shared by every caller.

Callers (Rasa actions, the console, the scheduler) only need to distinguish three things: the database is
unreachable (tell the customer to try later, retry the job), the input is wrong (ask again, with a
machine-readable ``code`` to choose the message), or a bug (let it crash loudly).
"""

from __future__ import annotations


class ServiceError(Exception):
    """Base class of every error a service raises on purpose."""


class ServiceUnavailable(ServiceError):
    """The database (or another backing service) cannot be reached right now; retrying later may work.

    Raised instead of SQLAlchemy's OperationalError/InterfaceError/connection errors so callers never
    depend on driver details.
    """


class InvalidInput(ServiceError):
    """The caller passed something the service cannot accept.

    ``code`` is stable and machine-readable (e.g. ``"invalid_identifier"``, ``"unknown_category"``) so the
    caller can pick a localised message; ``str(error)`` is an English developer message without personal data.
    """

    def __init__(self, code: str, message: str | None = None) -> None:
        self.code = code
        super().__init__(message or code)
