"""Marketers' campaigns (marketers, admins; agents get 403), built on the scheduler's campaign service.

Everything a campaign is or does - validation, audience, guard rails, scheduling, results - lives in
:mod:`bot.services.campaigns`; these pages only collect the form, show its bilingual errors and call it.
The service writes its own audit entries for changes; views of dry-runs are audited here.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response

from bot.console.auth import PREFIX, Ctx, NotFound, require
from bot.console.routes.common import audit, make_router, parse_int, run
from bot.console.templating import render
from bot.services.errors import InvalidInput

router = make_router()
MARKETING = ("marketer", "admin")


def _service() -> Any:
    from bot.services import campaigns

    return campaigns


def _segment_fields() -> Any:
    from bot.services.segments import SEGMENT_FIELDS

    return SEGMENT_FIELDS


@router.get("/campaigns")
async def campaign_list(ctx: Ctx = Depends(require(*MARKETING))) -> Response:
    rows = await run(_service().list_campaigns)
    return render(ctx, "campaigns/list.html", {"rows": rows})


def _form_context(values: dict[str, Any] | None = None, error: str | None = None) -> dict[str, Any]:
    from bot.settings import get_settings

    return {
        "values": values or {},
        "error": error,
        "segment_fields": _segment_fields(),
        "tiers": [name for name, _ in get_settings().tier_table()],
    }


@router.get("/campaigns/new")
async def campaign_form(ctx: Ctx = Depends(require(*MARKETING))) -> Response:
    return render(ctx, "campaigns/new.html", _form_context())


def spec_from_form(form: Any) -> dict[str, Any]:
    """The service's CampaignSpec mapping from the submitted form (types converted, blanks dropped)."""
    segment: dict[str, Any] = {}
    for field in _segment_fields():
        key = f"seg_{field.key}"
        if field.kind == "tiers":
            tiers = [v for v in form.getlist(key) if v]
            if tiers:
                segment[field.key] = tiers
            continue
        raw = (form.get(key) or "").strip()
        if not raw:
            continue
        if field.kind in ("int", "month"):
            number = parse_int(raw)
            segment[field.key] = number if number is not None else raw
        elif field.kind == "bool":
            segment[field.key] = raw in ("1", "true", "yes")
        else:
            segment[field.key] = raw
    spec: dict[str, Any] = {
        "name": (form.get("name") or "").strip(),
        "survey_type": form.get("survey_type") or "csat",
        "template_tr": form.get("template_tr") or "",
        "template_en": form.get("template_en") or "",
        "schedule_kind": form.get("schedule_kind") or "once",
        "segment": segment,
    }
    if form.get("run_at"):
        spec["run_at"] = form.get("run_at")
    if form.get("cron"):
        spec["cron"] = form.get("cron")
    if form.get("delay_hours"):
        spec["delay_hours"] = parse_int(form.get("delay_hours"))
    if form.get("reminder_after_hours"):
        spec["reminder_after_hours"] = parse_int(form.get("reminder_after_hours"))
    if form.get("commercial") is not None and spec["survey_type"] == "message":
        spec["commercial"] = True
    return spec


@router.post("/campaigns")
async def campaign_create(request: Request, ctx: Ctx = Depends(require(*MARKETING))) -> Response:
    form = await request.form()
    values = {k: form.get(k) for k in form}
    values["tiers_selected"] = form.getlist("seg_tier_in")
    try:
        spec = spec_from_form(form)
        info = await run(_service().create_campaign, spec, ctx.actor)
    except InvalidInput as error:
        return render(ctx, "campaigns/new.html", _form_context(values, str(error)), status_code=400)
    return RedirectResponse(f"{PREFIX}/campaigns/{info.id}", status_code=303)


@router.get("/campaigns/{campaign_id}")
async def campaign_detail(campaign_id: int, ctx: Ctx = Depends(require(*MARKETING))) -> Response:
    service = _service()
    info = await run(service.get_campaign, campaign_id)
    if info is None:
        raise NotFound()
    preview = None
    preview_error = None
    try:
        preview = await run(service.preview_campaign, campaign_id)
    except InvalidInput as error:
        preview_error = str(error)
    results = await run(service.campaign_results, campaign_id)
    params = ctx.request.query_params
    return render(
        ctx,
        "campaigns/detail.html",
        {
            "c": info,
            "preview": preview,
            "preview_error": preview_error,
            "results": results,
            "message": params.get("msg"),
            "error": params.get("err"),
        },
    )


@router.get("/campaigns/{campaign_id}/dry-run")
async def campaign_dry_run(campaign_id: int, ctx: Ctx = Depends(require(*MARKETING))) -> Response:
    service = _service()
    info = await run(service.get_campaign, campaign_id)
    if info is None:
        raise NotFound()
    try:
        report = await run(service.dry_run, campaign_id, limit=200)
    except InvalidInput as error:
        return RedirectResponse(f"{PREFIX}/campaigns/{campaign_id}?err={error.code}", status_code=303)
    await audit(ctx, "campaign.dry_run_view", "campaign", campaign_id, rows=len(report.entries))
    return render(ctx, "campaigns/dry_run.html", {"c": info, "report": report})


_ACTIONS = {
    "schedule": "schedule_campaign",
    "pause": "pause_campaign",
    "resume": "resume_campaign",
    "cancel": "cancel_campaign",
}


@router.post("/campaigns/{campaign_id}/{action}")
async def campaign_action(campaign_id: int, action: str, ctx: Ctx = Depends(require(*MARKETING))) -> Response:
    name = _ACTIONS.get(action)
    if name is None:
        raise NotFound()
    try:
        await run(getattr(_service(), name), campaign_id, ctx.actor)
    except InvalidInput as error:
        from urllib.parse import quote

        return RedirectResponse(f"{PREFIX}/campaigns/{campaign_id}?err={quote(str(error))}", status_code=303)
    return RedirectResponse(f"{PREFIX}/campaigns/{campaign_id}?msg={action}", status_code=303)


@router.get("/campaigns/{campaign_id}/results.csv")
async def campaign_results_csv(campaign_id: int, ctx: Ctx = Depends(require(*MARKETING))) -> Response:
    try:
        data = await run(_service().export_results_csv, campaign_id)
    except InvalidInput as error:
        raise NotFound() from error
    await audit(ctx, "campaign.results_export", "campaign", campaign_id)
    return Response(
        data,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="campaign-{campaign_id}-results.csv"'},
    )
