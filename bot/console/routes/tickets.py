"""Complaint queue (agents, admins): tickets by status and priority, assignment, notes, status changes.

Resolving a ticket (or a note marked "send to the customer") tells the customer on their channel;
``tickets.resolved_at`` then arms the scheduler's "was it resolved?" check-in by itself.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Depends, Form
from fastapi.responses import RedirectResponse, Response

from bot.console import delivery
from bot.console.auth import PREFIX, Ctx, NotFound, require
from bot.console.routes.common import audit, make_router, parse_bool, parse_int, run
from bot.console.templating import render
from bot.services import staff, ticket_admin
from bot.services.errors import InvalidInput
from bot.services.tickets import COMPLAINT_CATEGORIES, EXPECTED_RESPONSE_HOURS
from bot.services.tx import utcnow

router = make_router()
STAFF = ("agent", "admin")
STATUS_VIEWS = {
    "active": ("open", "in_progress"),
    "open": ("open",),
    "in_progress": ("in_progress",),
    "resolved": ("resolved",),
    "closed": ("closed",),
    "all": (),
}


@router.get("/tickets")
async def ticket_list(ctx: Ctx = Depends(require(*STAFF))) -> Response:
    params = ctx.request.query_params
    view = params.get("view", "active")
    assignee = params.get("assignee") or None
    if assignee == "me":
        assignee = ctx.actor
    page = await run(
        ticket_admin.list_tickets,
        statuses=STATUS_VIEWS.get(view, STATUS_VIEWS["active"]),
        priority=params.get("priority") or None,
        assignee=assignee if assignee != "none" else None,
        unassigned=assignee == "none",
        category=params.get("category") or None,
        query=params.get("q") or None,
        page=parse_int(params.get("page")) or 1,
    )
    users = await run(staff.list_users)
    await audit(ctx, "ticket.list", "ticket", None, rows=len(page.rows))
    active = {k: params.get(k) for k in ("view", "priority", "assignee", "category", "q") if params.get(k)}
    return render(
        ctx,
        "tickets/list.html",
        {
            "page": page,
            "view": view,
            "active": active,
            "query_string": urlencode(active),
            "users": {f"staff:{u.id}": u.display_name for u in users},
            "categories": COMPLAINT_CATEGORIES,
            "now": utcnow(),
        },
    )


async def _detail_context(ctx: Ctx, ref: str, message: str | None = None, error: str | None = None) -> dict:
    detail = await run(ticket_admin.ticket_detail, ref)
    if detail is None:
        raise NotFound()
    users = await run(staff.list_users)
    return {
        "detail": detail,
        "ticket": detail.ticket,
        "users": {f"staff:{u.id}": u.display_name for u in users},
        "assignable": [u for u in users if u.is_active and u.role in STAFF],
        "transitions": ticket_admin.ALLOWED_TRANSITIONS[detail.ticket.status],
        "categories": COMPLAINT_CATEGORIES,
        "sla_hours": EXPECTED_RESPONSE_HOURS.get(detail.ticket.priority),
        "message": message,
        "error": error,
    }


@router.get("/tickets/{ref}")
async def ticket_page(ref: str, ctx: Ctx = Depends(require(*STAFF))) -> Response:
    context = await _detail_context(
        ctx, ref, message=ctx.request.query_params.get("msg"), error=ctx.request.query_params.get("err")
    )
    await audit(ctx, "ticket.view", "ticket", ref)
    return render(ctx, "tickets/detail.html", context)


def _back(ref: str, **query: str) -> RedirectResponse:
    suffix = ("?" + urlencode(query)) if query else ""
    return RedirectResponse(f"{PREFIX}/tickets/{ref}{suffix}", status_code=303)


@router.post("/tickets/{ref}/assign")
async def assign(ref: str, ctx: Ctx = Depends(require(*STAFF)), assignee: str = Form("")) -> Response:
    target = ctx.actor if assignee == "me" else (assignee or None)
    if target is not None and not target.startswith("staff:"):
        return _back(ref, err="invalid")
    try:
        await run(ticket_admin.assign, ref, target, ctx.actor)
    except InvalidInput as error:
        return _back(ref, err=error.code)
    await audit(ctx, "ticket.assign", "ticket", ref, assignee=target)
    return _back(ref)


@router.post("/tickets/{ref}/priority")
async def priority(ref: str, ctx: Ctx = Depends(require(*STAFF)), value: str = Form("")) -> Response:
    try:
        await run(ticket_admin.set_priority, ref, value, ctx.actor)
    except InvalidInput as error:
        return _back(ref, err=error.code)
    await audit(ctx, "ticket.priority", "ticket", ref, priority=value)
    return _back(ref)


async def _tell_customer(ref: str, key: str, idempotency_key: str, **values: str) -> tuple[bool, str]:
    sender_id, language = await run(ticket_admin.customer_contact_sender, ref)
    if sender_id is None:
        return False, "no_reachable_channel"
    text = delivery.customer_text(key, language, ref=ref, **values)
    result = await delivery.send_text(
        sender_id, text, source="agent", idempotency_key=idempotency_key, language=language
    )
    return result.ok, result.channel if result.ok else (result.error_code or "error")


@router.post("/tickets/{ref}/note")
async def note(
    ref: str, ctx: Ctx = Depends(require(*STAFF)), body: str = Form(""), to_customer: str = Form("")
) -> Response:
    send = bool(parse_bool(to_customer))
    try:
        info = await run(ticket_admin.add_note, ref, ctx.actor, body, internal=not send)
    except InvalidInput as error:
        return _back(ref, err=error.code)
    await audit(ctx, "ticket.note", "ticket", ref, note_id=info.id, to_customer=send)
    if send:
        ok, detail = await _tell_customer(ref, "ticket_note", f"ticket-note-{info.id}", note=info.body)
        return _back(ref, msg=f"notified:{detail}") if ok else _back(ref, err=f"notify:{detail}")
    return _back(ref)


@router.post("/tickets/{ref}/status")
async def status(
    ref: str, ctx: Ctx = Depends(require(*STAFF)), value: str = Form(""), resolution: str = Form("")
) -> Response:
    try:
        row = await run(ticket_admin.change_status, ref, value, ctx.actor)
    except InvalidInput as error:
        return _back(ref, err=error.code)
    await audit(ctx, "ticket.status", "ticket", ref, status=value)
    if row.status == "resolved":
        resolution = resolution.strip()
        if resolution:
            info = await run(ticket_admin.add_note, ref, ctx.actor, resolution, internal=False)
            ok, detail = await _tell_customer(
                ref, "ticket_resolved_with_note", f"ticket-note-{info.id}", note=info.body
            )
        else:
            stamp = int(row.resolved_at.timestamp()) if row.resolved_at else 0
            ok, detail = await _tell_customer(ref, "ticket_resolved", f"ticket-resolved-{ref}-{stamp}")
        await audit(
            ctx, "ticket.customer_notified" if ok else "ticket.customer_notify_failed", "ticket", ref, channel=detail
        )
        return _back(ref, msg=f"notified:{detail}") if ok else _back(ref, err=f"notify:{detail}")
    return _back(ref)
