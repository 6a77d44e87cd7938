"""Conversation review (agents, admins): the list, the transcript and what can be done on it."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import Depends, Form
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

from bot.console.auth import PREFIX, Ctx, NotFound, require
from bot.console.routes.common import audit, is_htmx, make_router, parse_bool, parse_date, parse_int, run
from bot.console.templating import render
from bot.services import handover as handover_service
from bot.services import review, staff
from bot.services.errors import InvalidInput
from bot.services.tracker_events import low_confidence_threshold, sync_lag, sync_summaries
from bot.services.tx import utcnow

router = make_router()
STAFF = ("agent", "admin")
#: How long a page load may spend catching the summaries up with the tracker before rendering.
PAGE_SYNC_BUDGET_S = 0.3
FILTER_KEYS = (
    "from",
    "to",
    "channel",
    "language",
    "intent",
    "complaint",
    "problem",
    "score_kind",
    "score_max",
    "score_min",
    "tag",
    "reviewed",
    "handover",
    "q",
    "sort",
    "dir",
)


def filters_from_query(params: Any) -> review.ConversationFilters:
    kind = params.get("score_kind")
    sort = params.get("sort") or "last"
    return review.ConversationFilters(
        date_from=parse_date(params.get("from")),
        date_to=parse_date(params.get("to")),
        channel=params.get("channel") or None,
        language=params.get("language") or None,
        intent=params.get("intent") or None,
        has_complaint=parse_bool(params.get("complaint")),
        problem=params.get("problem") if params.get("problem") in ("fallback", "low_confidence", "any") else None,
        score_kind=kind if kind in ("csat", "nps") else None,
        score_max=parse_int(params.get("score_max")),
        score_min=parse_int(params.get("score_min")),
        tag=params.get("tag") or None,
        reviewed=parse_bool(params.get("reviewed")),
        has_handover=parse_bool(params.get("handover")),
        q=(params.get("q") or "").strip()[:200] or None,
        sort=sort if sort in review.SORT_COLUMNS else "last",
        direction="asc" if params.get("dir") == "asc" else "desc",
    )


def _active_query(params: Any) -> dict[str, str]:
    return {k: params.get(k) for k in FILTER_KEYS if params.get(k)}


async def _catch_up() -> None:
    try:
        await run(sync_summaries, time_budget_s=PAGE_SYNC_BUDGET_S, batch_size=2_000)
    except Exception:  # noqa: BLE001 - a failing sync must not take the page down; the periodic job logs it
        import logging

        logging.getLogger(__name__).exception("page-load tracker sync failed")


@router.get("/conversations")
async def conversation_list(ctx: Ctx = Depends(require(*STAFF))) -> Response:
    params = ctx.request.query_params
    await _catch_up()
    filters = filters_from_query(params)
    page = await run(review.list_conversations, filters, cursor=params.get("cursor") or None)
    active = _active_query(params)
    await audit(ctx, "conversation.list", "conversation", None, rows=len(page.rows), filters=sorted(active))
    context = {
        "page": page,
        "filters": filters,
        "active": active,
        "query_string": urlencode(active),
        "next_url": f"{PREFIX}/conversations?" + urlencode({**active, "cursor": page.next_cursor})
        if page.next_cursor
        else None,
        "first_url": f"{PREFIX}/conversations?" + urlencode(active),
        "has_cursor": bool(params.get("cursor")),
    }
    if is_htmx(ctx) and ctx.request.headers.get("hx-target") == "results":
        return render(ctx, "conversations/_results.html", context)
    cursor, newest = await run(sync_lag)
    context.update(
        intents=await run(review.known_intents),
        tags=await run(review.known_tags),
        saved=await run(review.saved_filters, ctx.user.id, "conversations"),
        sync_cursor=cursor,
        sync_newest=newest,
    )
    return render(ctx, "conversations/list.html", context)


async def _transcript_context(ctx: Ctx, sender_id: str, *, reveal: bool = False) -> dict[str, Any]:
    transcript = await run(review.load_transcript, sender_id, reveal=reveal)
    if transcript.event_count == 0 and transcript.summary is None and not transcript.items:
        raise NotFound()
    profile = None
    if transcript.customer_id is not None:
        full = await run(review.customer_profile, transcript.customer_id)
        if full is not None:
            profile = full if reveal else full.masked()
    open_handover = await run(handover_service.open_handover, sender_id)
    people = {i.author for i in transcript.items if i.author} | {n["author"] for n in transcript.notes if n["author"]}
    if open_handover and open_handover.taken_by:
        people.add(open_handover.taken_by)
    names = await run(staff.display_names, people)
    intents = await run(review.known_intents)
    return {
        "sender_id": sender_id,
        "transcript": transcript,
        "profile": profile,
        "revealed": reveal,
        "handover": open_handover,
        "names": names,
        "intents": intents,
        "now": utcnow(),
        "threshold": low_confidence_threshold(),
    }


@router.get("/conversations/{sender_id}")
async def conversation_page(sender_id: str, ctx: Ctx = Depends(require(*STAFF))) -> Response:
    await _catch_up()
    context = await _transcript_context(ctx, sender_id)
    await audit(ctx, "conversation.view", "conversation", sender_id)
    return render(ctx, "conversations/detail.html", context)


@router.get("/conversations/{sender_id}/transcript")
async def transcript_fragment(sender_id: str, ctx: Ctx = Depends(require(*STAFF))) -> Response:
    """The transcript alone, polled every few seconds while an agent holds the conversation."""
    context = await _transcript_context(ctx, sender_id)
    return render(ctx, "conversations/_transcript.html", context)


@router.post("/conversations/{sender_id}/reveal")
async def reveal_profile(sender_id: str, ctx: Ctx = Depends(require(*STAFF))) -> Response:
    context = await _transcript_context(ctx, sender_id, reveal=True)
    await audit(ctx, "customer.reveal", "customer", context["transcript"].customer_id, conversation=sender_id)
    if is_htmx(ctx):
        return render(ctx, "conversations/_profile.html", context)
    return render(ctx, "conversations/detail.html", context)


def _back(sender_id: str, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/conversations/{sender_id}{anchor}", status_code=303)


async def _sidebar(ctx: Ctx, sender_id: str, error: str | None = None) -> Response:
    context = await _transcript_context(ctx, sender_id)
    context["error"] = error
    return render(ctx, "conversations/_review_panel.html", context, status_code=400 if error else 200)


@router.post("/conversations/{sender_id}/tags")
async def add_tag(sender_id: str, ctx: Ctx = Depends(require(*STAFF)), tag: str = Form("")) -> Response:
    try:
        tag = await run(review.add_tag, sender_id, tag, ctx.user.id)
    except InvalidInput as error:
        return await _sidebar(ctx, sender_id, error.code) if is_htmx(ctx) else _back(sender_id)
    await audit(ctx, "conversation.tag", "conversation", sender_id, tag=tag)
    return await _sidebar(ctx, sender_id) if is_htmx(ctx) else _back(sender_id)


@router.post("/conversations/{sender_id}/tags/{tag}/delete")
async def remove_tag(sender_id: str, tag: str, ctx: Ctx = Depends(require(*STAFF))) -> Response:
    await run(review.remove_tag, sender_id, tag)
    await audit(ctx, "conversation.untag", "conversation", sender_id, tag=tag)
    return await _sidebar(ctx, sender_id) if is_htmx(ctx) else _back(sender_id)


@router.post("/conversations/{sender_id}/notes")
async def add_note(sender_id: str, ctx: Ctx = Depends(require(*STAFF)), body: str = Form("")) -> Response:
    try:
        note_id = await run(review.add_note, sender_id, ctx.user.id, body)
    except InvalidInput as error:
        return await _sidebar(ctx, sender_id, error.code) if is_htmx(ctx) else _back(sender_id)
    await audit(ctx, "conversation.note", "conversation", sender_id, note_id=note_id)
    return await _sidebar(ctx, sender_id) if is_htmx(ctx) else _back(sender_id)


@router.post("/conversations/{sender_id}/reviewed")
async def mark_reviewed(sender_id: str, ctx: Ctx = Depends(require(*STAFF)), reviewed: str = Form("1")) -> Response:
    value = reviewed not in ("0", "false")
    await run(review.set_reviewed, sender_id, ctx.user.id, value)
    await audit(ctx, "conversation.reviewed" if value else "conversation.unreviewed", "conversation", sender_id)
    return await _sidebar(ctx, sender_id) if is_htmx(ctx) else _back(sender_id)


@router.post("/conversations/{sender_id}/turns/{event_id}/intent")
async def correct_intent(
    sender_id: str, event_id: int, ctx: Ctx = Depends(require(*STAFF)), intent: str = Form("")
) -> Response:
    try:
        correction_id = await run(review.correct_intent, sender_id, event_id, intent, ctx.user.id)
    except InvalidInput as error:
        if is_htmx(ctx):
            return PlainTextResponse(error.code, status_code=400)
        return _back(sender_id)
    await audit(
        ctx,
        "turn.intent_corrected",
        "conversation",
        sender_id,
        event_id=event_id,
        correction_id=correction_id,
        intent=intent,
    )
    if is_htmx(ctx):
        context = await _transcript_context(ctx, sender_id)
        item = next((i for i in context["transcript"].items if i.event_id == event_id and i.kind == "user"), None)
        return render(ctx, "conversations/_user_turn.html", {**context, "item": item})
    return _back(sender_id, f"#e{event_id}")


def _download(content: str, media_type: str, filename: str) -> Response:
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


def _safe_name(sender_id: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in sender_id)[:80]


@router.get("/conversations/{sender_id}/export.json")
async def export_json(sender_id: str, ctx: Ctx = Depends(require(*STAFF))) -> Response:
    import json

    data = await run(review.conversation_json, sender_id)
    await audit(ctx, "conversation.export", "conversation", sender_id, format="json")
    return _download(
        json.dumps(data, ensure_ascii=False, indent=2, default=_json_default),
        "application/json",
        f"conversation-{_safe_name(sender_id)}.json",
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


@router.get("/conversations/{sender_id}/export.csv")
async def export_csv(sender_id: str, ctx: Ctx = Depends(require(*STAFF))) -> Response:
    data = await run(review.conversation_csv, sender_id)
    await audit(ctx, "conversation.export", "conversation", sender_id, format="csv")
    return _download(data, "text/csv; charset=utf-8", f"conversation-{_safe_name(sender_id)}.csv")


@router.get("/conversations/{sender_id}/story")
async def export_story(sender_id: str, ctx: Ctx = Depends(require(*STAFF))) -> Response:
    data = await run(review.story_yaml, sender_id)
    await audit(ctx, "conversation.export", "conversation", sender_id, format="story")
    return Response(
        data,
        media_type="application/x-yaml; charset=utf-8",
        headers={
            "Content-Disposition": f'inline; filename="story-{_safe_name(sender_id)}.yml"',
            "Cache-Control": "no-store",
        },
    )


# --- saved filters (conversations and review pages) ---------------------------------------------------------


@router.post("/filters")
async def save_filter(
    ctx: Ctx = Depends(require(*STAFF)),
    page: str = Form("conversations"),
    name: str = Form(""),
    query: str = Form(""),
) -> Response:
    target = f"{PREFIX}/{'review' if page == 'review' else 'conversations'}"
    try:
        saved = await run(review.save_filter, ctx.user.id, page, name, query)
    except InvalidInput:
        return RedirectResponse(f"{target}?{query}", status_code=303)
    await audit(ctx, "saved_filter.save", "saved_filter", saved.id, page=page)
    return RedirectResponse(f"{target}?{saved.query}", status_code=303)


@router.post("/filters/{filter_id}/delete")
async def delete_filter(
    filter_id: int, ctx: Ctx = Depends(require(*STAFF)), page: str = Form("conversations")
) -> Response:
    await run(review.delete_saved_filter, ctx.user.id, filter_id)
    await audit(ctx, "saved_filter.delete", "saved_filter", filter_id)
    return RedirectResponse(f"{PREFIX}/{'review' if page == 'review' else 'conversations'}", status_code=303)
