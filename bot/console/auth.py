"""Authentication, roles and CSRF for every console route.

* The session cookie holds a random token signed with ``settings.secret_key`` (itsdangerous); the session
  itself lives in the database (:mod:`bot.services.staff`), so logout and password changes revoke it at
  once. Cookie flags: HttpOnly, SameSite=Lax, Secure when ``settings.secure_cookies``.
* Every route declares its roles with ``Depends(require(...))``. Anonymous visitors are redirected to the
  login page (htmx requests get ``HX-Redirect``); a signed-in user without the role gets 403.
* CSRF: every unsafe request (POST) must carry the session's token, as the ``csrf_token`` form field or
  the ``X-CSRF-Token`` header (htmx sends it from ``hx-headers`` on <body>). The login form, which has no
  session yet, uses a signed double-submit cookie instead.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from itsdangerous import BadSignature, URLSafeTimedSerializer

from bot.console.i18n import LANGUAGES
from bot.services import staff
from bot.services.errors import ServiceUnavailable
from bot.services.staff import SessionInfo, StaffAccount
from bot.settings import get_settings

PREFIX = "/console"
SESSION_COOKIE = "memnun_console"
LOGIN_CSRF_COOKIE = "memnun_console_login"
LANG_COOKIE = "memnun_console_lang"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ALL_ROLES = ("agent", "marketer", "admin")


class ConsoleError(Exception):
    """Raised by dependencies/routes; turned into a page by :class:`ConsoleRoute`."""

    status_code = 400


class NotAuthenticated(ConsoleError):
    status_code = 401


class Forbidden(ConsoleError):
    status_code = 403


class CsrfFailed(ConsoleError):
    status_code = 403


class NotFound(ConsoleError):
    status_code = 404


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().secret_key.get_secret_value(), salt=salt)


def sign_session_token(token: str) -> str:
    return _serializer("memnun-console-session").dumps(token)


def unsign_session_token(value: str) -> str | None:
    try:
        token = _serializer("memnun-console-session").loads(value, max_age=int(staff.SESSION_MAX_AGE.total_seconds()))
    except BadSignature:
        return None
    return token if isinstance(token, str) else None


def set_cookie(response: Response, name: str, value: str, *, max_age: int | None = None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PREFIX,
        httponly=True,
        samesite="lax",
        secure=get_settings().secure_cookies,
    )


def client_ip(request: Request) -> str:
    # Behind a reverse proxy run uvicorn with --proxy-headers/--forwarded-allow-ips so this is the real client.
    return request.client.host if request.client else "unknown"


@dataclass(frozen=True)
class Ctx:
    """What a console route knows about the request: who, in which language, with which CSRF token."""

    request: Request
    session: SessionInfo | None
    lang: str

    @property
    def user(self) -> StaffAccount:
        assert self.session is not None
        return self.session.user

    @property
    def actor(self) -> str:
        return f"staff:{self.user.id}"

    @property
    def csrf_token(self) -> str:
        return self.session.csrf_token if self.session else ""

    def has(self, *roles: str) -> bool:
        return self.session is not None and self.session.user.role in roles


def request_language(request: Request, session: SessionInfo | None) -> str:
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie in LANGUAGES:
        return cookie
    if session is not None and session.user.ui_language in LANGUAGES:
        return session.user.ui_language
    return "tr"


async def current_session(request: Request) -> SessionInfo | None:
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    token = unsign_session_token(raw)
    if token is None:
        return None
    return await asyncio.to_thread(staff.resolve_session, token)


async def _check_csrf(request: Request, expected: str) -> None:
    supplied = request.headers.get(CSRF_HEADER)
    if not supplied:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()  # cached by Starlette; the route's Form() parameters still work
            value = form.get(CSRF_FIELD)
            supplied = value if isinstance(value, str) else None
    if not supplied or not expected or not hmac.compare_digest(supplied.encode(), expected.encode()):
        raise CsrfFailed()


def require(*roles: str) -> Callable[[Request], Awaitable[Ctx]]:
    """Dependency: a signed-in user with one of ``roles``; CSRF-checked on unsafe methods."""
    allowed = roles or ALL_ROLES

    async def dependency(request: Request) -> Ctx:
        session = await current_session(request)
        lang = request_language(request, session)
        request.state.console_ctx = Ctx(request, session, lang)
        if session is None:
            raise NotAuthenticated()
        if request.method not in SAFE_METHODS:
            await _check_csrf(request, session.csrf_token)
        if session.user.role not in allowed:
            raise Forbidden()
        return Ctx(request, session, lang)

    dependency.__name__ = f"require_{'_'.join(allowed)}"
    return dependency


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


def check_login_csrf(request: Request, supplied: str | None) -> bool:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not cookie or not supplied:
        return False
    try:
        expected = _serializer("memnun-console-login").loads(cookie, max_age=3600)
    except BadSignature:
        return False
    return isinstance(expected, str) and hmac.compare_digest(expected.encode(), supplied.encode())


def sign_login_csrf(token: str) -> str:
    return _serializer("memnun-console-login").dumps(token)


def login_redirect(request: Request) -> Response:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    location = f"{PREFIX}/login?next={quote(target, safe='')}"
    if request.headers.get("hx-request"):
        return Response(status_code=401, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


def _error_page(request: Request, error: ConsoleError) -> Response:
    from bot.console.templating import render

    ctx: Ctx = getattr(request.state, "console_ctx", None) or Ctx(request, None, request_language(request, None))
    if isinstance(error, NotAuthenticated):
        return login_redirect(request)
    key = {
        Forbidden: "error.forbidden",
        CsrfFailed: "error.csrf",
    }.get(type(error), "error.invalid")
    if isinstance(error, NotFound):
        key = "error.not_found"
    return render(
        ctx,
        "error.html",
        {"title_key": key + ".title" if key != "error.not_found" else key, "body_key": key + ".body"},
        status_code=error.status_code,
    )


class ConsoleRoute(APIRoute):
    """Renders console errors (login redirect, 403, CSRF, 404, database down) as pages, router-local, so the
    console behaves the same whether the lead includes the router or mounts :func:`create_console_app`."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except ConsoleError as error:
                return _error_page(request, error)
            except ServiceUnavailable:
                from bot.console.templating import render

                ctx = getattr(request.state, "console_ctx", None) or Ctx(request, None, "tr")
                return render(ctx, "error.html", {"title_key": "error.unavailable", "body_key": ""}, status_code=503)

        return handler


def html_error(message: str, status_code: int = 400) -> HTMLResponse:
    """A small fragment for htmx targets (already escaped by the caller's template)."""
    return HTMLResponse(message, status_code=status_code)


def set_language_cookie(response: Response, lang: str) -> None:
    response.set_cookie(
        LANG_COOKIE,
        lang,
        max_age=365 * 86400,
        path=PREFIX,
        samesite="lax",
        secure=get_settings().secure_cookies,
        httponly=True,
    )


def safe_next(target: Any) -> str:
    """Only same-console paths are allowed after login (no open redirect)."""
    if (
        isinstance(target, str)
        and target.startswith(PREFIX + "/")
        and not target.startswith("//")
        and "\\" not in target
    ):
        return target
    return PREFIX + "/"
