"""Admin pages: console users (create, role, (de)activate, password reset) and the audit log."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Depends, Form
from fastapi.responses import RedirectResponse, Response

from bot.console.auth import PREFIX, Ctx, require
from bot.console.routes.common import audit, make_router, parse_int, run
from bot.console.templating import render
from bot.services import staff
from bot.services.errors import InvalidInput

router = make_router()


async def _users_page(
    ctx: Ctx,
    *,
    error: str | None = None,
    message: str | None = None,
    status_code: int = 200,
    values: dict | None = None,
) -> Response:
    users = await run(staff.list_users)
    return render(
        ctx,
        "admin/users.html",
        {"users": users, "error": error, "message": message, "values": values or {}},
        status_code=status_code,
    )


@router.get("/admin/users")
async def users(ctx: Ctx = Depends(require("admin"))) -> Response:
    return await _users_page(ctx, message=ctx.request.query_params.get("msg"))


@router.post("/admin/users")
async def create_user(
    ctx: Ctx = Depends(require("admin")),
    email: str = Form(""),
    display_name: str = Form(""),
    role: str = Form("agent"),
    password: str = Form(""),
) -> Response:
    try:
        account = await run(staff.create_user, email, password, role, display_name or None)
    except InvalidInput as error:
        return await _users_page(
            ctx,
            error=f"adm.error.{error.code}",
            status_code=400,
            values={"email": email, "display_name": display_name, "role": role},
        )
    await audit(ctx, "staff_user.create", "staff_user", account.id, role=account.role)
    return RedirectResponse(f"{PREFIX}/admin/users?msg=created", status_code=303)


@router.post("/admin/users/{user_id}")
async def update_user(
    user_id: int, ctx: Ctx = Depends(require("admin")), role: str = Form(""), active: str = Form("")
) -> Response:
    try:
        await run(staff.update_user, user_id, role=role or None, is_active=None if active == "" else active == "1")
    except InvalidInput as error:
        return await _users_page(ctx, error=f"adm.error.{error.code}", status_code=400)
    await audit(ctx, "staff_user.update", "staff_user", user_id, role=role or None, active=active or None)
    return RedirectResponse(f"{PREFIX}/admin/users?msg=saved", status_code=303)


@router.post("/admin/users/{user_id}/password")
async def reset_password(user_id: int, ctx: Ctx = Depends(require("admin")), password: str = Form("")) -> Response:
    try:
        await run(staff.set_password, user_id, password)
    except InvalidInput as error:
        return await _users_page(ctx, error=f"adm.error.{error.code}", status_code=400)
    await audit(ctx, "staff_user.password_reset", "staff_user", user_id)
    return RedirectResponse(f"{PREFIX}/admin/users?msg=saved", status_code=303)


@router.get("/admin/audit")
async def audit_log(ctx: Ctx = Depends(require("admin"))) -> Response:
    params = ctx.request.query_params
    filters = {k: params.get(k) for k in ("actor", "entity", "entity_id", "action") if params.get(k)}
    entries = await run(
        staff.audit_entries,
        actor=filters.get("actor"),
        entity=filters.get("entity"),
        entity_id=filters.get("entity_id"),
        action_prefix=filters.get("action"),
        before_id=parse_int(params.get("before")),
    )
    ids = {int(e.actor.split(":", 1)[1]) for e in entries if e.actor.startswith("staff:") and e.actor[6:].isdigit()}
    names = await run(staff.display_names, ids)
    next_url = None
    if len(entries) == 100:
        next_url = f"{PREFIX}/admin/audit?" + urlencode({**filters, "before": entries[-1].id})
    return render(
        ctx, "admin/audit.html", {"entries": entries, "names": names, "filters": filters, "next_url": next_url}
    )
