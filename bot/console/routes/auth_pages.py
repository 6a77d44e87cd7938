"""Login, logout, password change, language toggle, home redirect."""

from __future__ import annotations

import math

from fastapi import Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from bot.console.auth import (
    LOGIN_CSRF_COOKIE,
    PREFIX,
    SESSION_COOKIE,
    CsrfFailed,
    Ctx,
    check_login_csrf,
    client_ip,
    current_session,
    new_login_csrf,
    request_language,
    require,
    safe_next,
    set_cookie,
    set_language_cookie,
    sign_login_csrf,
    sign_session_token,
    unsign_session_token,
)
from bot.console.routes.common import audit, make_router, run
from bot.console.templating import render
from bot.services import audit as audit_service
from bot.services import staff
from bot.services.errors import InvalidInput

router = make_router()


def home_for(role: str) -> str:
    return f"{PREFIX}/analytics" if role == "marketer" else f"{PREFIX}/conversations"


@router.get("/", name="console_home")
async def home(ctx: Ctx = Depends(require())) -> Response:
    return RedirectResponse(home_for(ctx.user.role), status_code=303)


def _login_page(
    request: Request, *, error: str | None = None, status_code: int = 200, email: str = "", notice: str | None = None
) -> Response:
    ctx = Ctx(request, None, request_language(request, None))
    token = new_login_csrf()
    response = render(
        ctx,
        "login.html",
        {
            "login_csrf": token,
            "error": error,
            "email": email,
            "next": safe_next(request.query_params.get("next")),
            "notice": notice,
        },
        status_code=status_code,
    )
    set_cookie(response, LOGIN_CSRF_COOKIE, sign_login_csrf(token), max_age=3600)
    return response


@router.get("/login", name="console_login")
async def login_page(request: Request) -> Response:
    session = await current_session(request)
    if session is not None:
        return RedirectResponse(home_for(session.user.role), status_code=303)
    notice = "login.logged_out" if request.query_params.get("bye") else None
    return _login_page(request, notice=notice)


@router.post("/login")
async def login_submit(
    request: Request,
    email: str = Form(""),
    password: str = Form(""),
    csrf_token: str = Form(""),
    next: str = Form(f"{PREFIX}/"),  # noqa: A002 - the form field's name
) -> Response:
    if not check_login_csrf(request, csrf_token):
        raise CsrfFailed()
    lang = request_language(request, None)
    result = await run(staff.login, email, password, client_ip(request), user_agent=request.headers.get("user-agent"))
    if result.status == "rate_limited":
        from bot.console.i18n import t

        minutes = max(1, math.ceil((result.retry_after_s or 60) / 60))
        response = _login_page(
            request, error=t("login.rate_limited", lang, minutes=minutes), status_code=429, email=email
        )
        response.headers["Retry-After"] = str(result.retry_after_s or 60)
        return response
    if result.status != "ok" or result.token is None or result.user is None:
        from bot.console.i18n import t

        return _login_page(request, error=t("login.invalid", lang), status_code=401, email=email)
    await run(audit_service.record, f"staff:{result.user.id}", "console.login", "staff_user", result.user.id, {})
    target = safe_next(next)
    if target == f"{PREFIX}/":
        target = home_for(result.user.role)
    response = RedirectResponse(target, status_code=303)
    set_cookie(response, SESSION_COOKIE, sign_session_token(result.token))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=PREFIX)
    return response


@router.post("/logout")
async def logout(ctx: Ctx = Depends(require())) -> Response:
    raw = ctx.request.cookies.get(SESSION_COOKIE, "")
    token = unsign_session_token(raw)
    if token:
        await run(staff.logout, token)
    await audit(ctx, "console.logout", "staff_user", ctx.user.id)
    response = RedirectResponse(f"{PREFIX}/login?bye=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


@router.get("/password")
async def password_page(ctx: Ctx = Depends(require())) -> Response:
    return render(ctx, "password.html", {"error": None, "done": False})


@router.post("/password")
async def password_submit(
    ctx: Ctx = Depends(require()),
    current: str = Form(""),
    new: str = Form(""),
    repeat: str = Form(""),
) -> Response:
    error = None
    if new != repeat:
        error = "password.mismatch"
    else:
        try:
            assert ctx.session is not None
            await run(staff.change_own_password, ctx.user.id, current, new, ctx.session.session_id)
        except InvalidInput as exc:
            error = f"password.{exc.code}"
    if error:
        return render(ctx, "password.html", {"error": error, "done": False}, status_code=400)
    await audit(ctx, "console.password_change", "staff_user", ctx.user.id)
    return render(ctx, "password.html", {"error": None, "done": True})


@router.get("/lang/{code}")
async def set_language(code: str, request: Request) -> Response:
    """Language is a display preference (a cookie), so a plain link can switch it."""
    target = safe_next(request.query_params.get("next"))
    response = RedirectResponse(target, status_code=303)
    if code in ("tr", "en"):
        set_language_cookie(response, code)
    return response
