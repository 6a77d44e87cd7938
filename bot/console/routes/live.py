"""Human takeover (agents, admins): the live panel, take / reply / hand back.

Taking a conversation pauses Rasa for it (``{"event": "pause"}`` through the Rasa HTTP API): Rasa still
records what the customer writes, which the transcript (polled every few seconds) shows to the agent, but
predicts nothing. Handing back resumes it. If Rasa cannot be reached the take is undone, so the console
never claims a hold the assistant does not honour.
"""

from __future__ import annotations

from fastapi import Depends, Form
from fastapi.responses import RedirectResponse, Response

from bot.console import delivery
from bot.console.auth import PREFIX, Ctx, require
from bot.console.routes.common import audit, is_htmx, make_router, run
from bot.console.routes.conversations import _transcript_context
from bot.console.templating import render
from bot.services import handover as handover_service
from bot.services import review, staff
from bot.services.errors import InvalidInput
from bot.services.tx import utcnow

router = make_router()
STAFF = ("agent", "admin")


async def _panel_context() -> dict:
    open_items = await run(handover_service.list_open)
    low = await run(handover_service.recent_low_scores)
    names = await run(staff.display_names, {h.taken_by for h in open_items if h.taken_by})
    return {
        "waiting": [h for h in open_items if h.status == "waiting"],
        "active": [h for h in open_items if h.status == "active"],
        "low_scores": low,
        "names": names,
        "now": utcnow(),
    }


@router.get("/live")
async def live_page(ctx: Ctx = Depends(require(*STAFF))) -> Response:
    return render(ctx, "live/page.html", await _panel_context())


@router.get("/live/panel")
async def live_panel(ctx: Ctx = Depends(require(*STAFF))) -> Response:
    """Polled by htmx every few seconds; carries no message text, only ids, reasons and times."""
    return render(ctx, "live/_panel.html", await _panel_context())


@router.get("/live/badge")
async def live_badge(ctx: Ctx = Depends(require(*STAFF))) -> Response:
    open_items = await run(handover_service.list_open)
    waiting = sum(1 for h in open_items if h.status == "waiting")
    return render(ctx, "live/_badge.html", {"waiting": waiting})


@router.post("/live/low-scores/{response_id}/dismiss")
async def dismiss_low_score(response_id: int, ctx: Ctx = Depends(require(*STAFF))) -> Response:
    try:
        await run(review.dismiss_low_score, response_id, ctx.user.id)
    except InvalidInput:
        return Response(status_code=404)
    await audit(ctx, "low_score.dismiss", "survey_response", response_id)
    if is_htmx(ctx):
        return render(ctx, "live/_panel.html", await _panel_context())
    return RedirectResponse(f"{PREFIX}/live", status_code=303)


async def _conversation_panel(ctx: Ctx, sender_id: str, error: str | None = None, *, reload: bool = False) -> Response:
    context = await _transcript_context(ctx, sender_id)
    context["takeover_error"] = error
    if is_htmx(ctx):
        # Taking over / handing back changes the whole page (the transcript starts or stops polling for the
        # customer's new messages), so htmx reloads it; a reply only refreshes the transcript.
        headers = {"HX-Refresh": "true"} if reload and not error else {"HX-Trigger": "transcript-changed"}
        return render(
            ctx,
            "conversations/_takeover.html",
            context,
            status_code=409 if error else 200,
            headers=headers,
        )
    return RedirectResponse(f"{PREFIX}/conversations/{sender_id}", status_code=303)


@router.post("/conversations/{sender_id}/take")
async def take(sender_id: str, ctx: Ctx = Depends(require(*STAFF))) -> Response:
    before = await run(handover_service.open_handover, sender_id)
    try:
        info = await run(handover_service.take, sender_id, ctx.user.id)
    except InvalidInput as error:
        return await _conversation_panel(ctx, sender_id, f"ho.error.{error.code}")
    error_code = await delivery.pause_assistant(sender_id)
    if error_code is not None:
        await run(handover_service.undo_take, info.id, previous_status=before.status if before else "none")
        await audit(ctx, "handover.take_failed", "conversation", sender_id, handover_id=info.id, error=error_code)
        return await _conversation_panel(ctx, sender_id, "ho.error.rasa")
    await audit(ctx, "handover.take", "conversation", sender_id, handover_id=info.id, reason=info.reason)
    return await _conversation_panel(ctx, sender_id, reload=True)


@router.post("/conversations/{sender_id}/reply")
async def reply(sender_id: str, ctx: Ctx = Depends(require(*STAFF)), message: str = Form("")) -> Response:
    current = await run(handover_service.open_handover, sender_id)
    if current is None or current.status != "active" or current.taken_by != ctx.user.id:
        return await _conversation_panel(ctx, sender_id, "ho.must_take")
    try:
        record = await run(
            handover_service.record_agent_message, sender_id, ctx.user.id, message, handover_id=current.id
        )
    except InvalidInput as error:
        return await _conversation_panel(ctx, sender_id, f"ho.error.{error.code}")
    text = record.text
    if sender_id.startswith("tg-"):
        # Telegram shows every bot message the same way: say that a person is writing now.
        text = f"👤 {delivery.customer_text('agent_label', current.language)}: {record.text}"
    result = await delivery.send_text(
        sender_id, text, source="agent", idempotency_key=f"agent-message-{record.id}", language=current.language
    )
    await run(handover_service.mark_agent_message, record.id, "sent" if result.ok else "failed", result.error_code)
    await audit(
        ctx,
        "handover.reply",
        "conversation",
        sender_id,
        agent_message_id=record.id,
        delivered=result.ok,
        error=result.error_code,
    )
    return await _conversation_panel(ctx, sender_id)


@router.post("/conversations/{sender_id}/release")
async def release(sender_id: str, ctx: Ctx = Depends(require(*STAFF))) -> Response:
    current = await run(handover_service.open_handover, sender_id)
    if current is None:
        return await _conversation_panel(ctx, sender_id, "ho.error.not_held")
    force = ctx.user.role == "admin"
    if current.status == "active" and current.taken_by != ctx.user.id and not force:
        return await _conversation_panel(ctx, sender_id, "ho.error.held_by_other")
    if current.status == "active":
        # Resume first: if Rasa is unreachable the agent keeps the conversation rather than leaving the
        # customer with a silent assistant.
        error_code = await delivery.resume_assistant(sender_id)
        if error_code is not None:
            return await _conversation_panel(ctx, sender_id, "ho.error.rasa")
    info = await run(handover_service.release, sender_id, ctx.user.id, force=True)
    if current.status == "active":
        await delivery.send_text(
            sender_id,
            delivery.customer_text("handover_released", current.language),
            source="system",
            idempotency_key=f"handover-released-{info.id}",
            language=current.language,
        )
    await audit(ctx, "handover.release", "conversation", sender_id, handover_id=info.id)
    return await _conversation_panel(ctx, sender_id, reload=True)
