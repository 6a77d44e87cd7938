"""The review queue (flagged turns) and intent corrections export (agents, admins)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Depends, Form
from fastapi.responses import RedirectResponse, Response

from bot.console.auth import PREFIX, Ctx, require
from bot.console.routes.common import audit, is_htmx, make_router, parse_int, run
from bot.console.routes.conversations import _catch_up
from bot.console.templating import render
from bot.services import review
from bot.services.errors import InvalidInput
from bot.services.tracker_events import low_confidence_threshold

router = make_router()
STAFF = ("agent", "admin")
REVIEW_KEYS = ("status", "reason", "channel", "language", "intent")


@router.get("/review")
async def review_queue(ctx: Ctx = Depends(require(*STAFF))) -> Response:
    params = ctx.request.query_params
    await _catch_up()
    status = params.get("status", "new")
    page = await run(
        review.list_flags,
        status=status if status in ("new", "reviewed", "applied") else None,
        reason=params.get("reason") or None,
        channel=params.get("channel") or None,
        language=params.get("language") or None,
        intent=params.get("intent") or None,
        page=parse_int(params.get("page")) or 1,
    )
    active = {k: params.get(k) for k in REVIEW_KEYS if params.get(k)}
    await audit(ctx, "review.list", "review_flag", None, rows=len(page.rows))
    context = {
        "page": page,
        "status": status,
        "active": active,
        "query_string": urlencode(active),
        "intents": await run(review.known_intents),
        "saved": await run(review.saved_filters, ctx.user.id, "review"),
        "threshold": low_confidence_threshold(),
        "corrections_new": len(await run(review.list_corrections, only_new=True)),
    }
    return render(ctx, "review/queue.html", context)


@router.post("/review/flags/{flag_id}/status")
async def flag_status(flag_id: int, ctx: Ctx = Depends(require(*STAFF)), status: str = Form("reviewed")) -> Response:
    try:
        sender_id = await run(review.set_flag_status, flag_id, status, ctx.user.id)
    except InvalidInput:
        return Response(status_code=400)
    await audit(ctx, "review_flag.status", "review_flag", flag_id, status=status, conversation=sender_id)
    if is_htmx(ctx):
        return Response(status_code=200, content="")
    return RedirectResponse(f"{PREFIX}/review", status_code=303)


@router.get("/review/corrections")
async def corrections_page(ctx: Ctx = Depends(require(*STAFF))) -> Response:
    rows = await run(review.list_corrections)
    await audit(ctx, "corrections.list", "intent_correction", None, rows=len(rows))
    done = parse_int(ctx.request.query_params.get("applied"))
    return render(ctx, "review/corrections.html", {"rows": rows, "applied": done})


@router.get("/review/corrections.yml")
async def corrections_yaml(ctx: Ctx = Depends(require(*STAFF))) -> Response:
    only_new = ctx.request.query_params.get("new") == "1"
    rows = await run(review.list_corrections, only_new=only_new)
    await audit(ctx, "corrections.export", "intent_correction", None, rows=len(rows), only_new=only_new)
    return Response(
        review.corrections_nlu_yaml(rows),
        media_type="application/x-yaml; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="nlu-corrections.yml"', "Cache-Control": "no-store"},
    )


@router.post("/review/corrections/applied")
async def corrections_applied(ctx: Ctx = Depends(require(*STAFF))) -> Response:
    rows = await run(review.list_corrections, only_new=True)
    count = await run(review.mark_corrections_applied, [r.id for r in rows], ctx.user.id)
    await audit(ctx, "corrections.applied", "intent_correction", None, rows=count)
    return RedirectResponse(f"{PREFIX}/review/corrections?applied={count}", status_code=303)
