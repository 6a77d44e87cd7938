"""Analytics (marketers, admins): charts drawn by Chart.js from JSON embedded in the page, CSV per chart."""

from __future__ import annotations

from datetime import timedelta

from fastapi import Depends
from fastapi.responses import JSONResponse, Response

from bot.console.auth import Ctx, NotFound, require
from bot.console.i18n import t
from bot.console.routes.common import audit, make_router, parse_date, run
from bot.console.routes.conversations import _catch_up
from bot.console.templating import render
from bot.services import analytics

router = make_router()
ANALYSTS = ("marketer", "admin")
MAX_DAYS = 366


def _period(ctx: Ctx) -> analytics.Period:
    params = ctx.request.query_params
    default = analytics.default_period()
    start = parse_date(params.get("from")) or default.start
    end = parse_date(params.get("to")) or default.end
    if end < start:
        start, end = end, start
    if (end - start).days >= MAX_DAYS:
        start = end - timedelta(days=MAX_DAYS - 1)
    return analytics.Period(start, end)


@router.get("/analytics")
async def analytics_page(ctx: Ctx = Depends(require(*ANALYSTS))) -> Response:
    await _catch_up()
    period = _period(ctx)
    charts = {}
    for name in analytics.CHART_NAMES:
        charts[name] = await run(analytics.chart, name, period)
    outcome = charts["outcomes"].extra["outcomes"]
    chart_json = {name: chart.to_json() for name, chart in charts.items()}
    chart_json["outcomes"]["labels"] = [t(f"an.{label}", ctx.lang) for label in chart_json["outcomes"]["labels"]]
    return render(
        ctx,
        "analytics/page.html",
        {
            "period": period,
            "charts": charts,
            "chart_json": chart_json,
            "outcomes": outcome,
            "names": analytics.CHART_NAMES,
        },
    )


def _chart(name: str, ctx: Ctx) -> analytics.Chart:
    if name not in analytics.CHART_NAMES:
        raise NotFound()
    return analytics.chart(name, _period(ctx))


@router.get("/analytics/{name}.csv")
async def chart_csv(name: str, ctx: Ctx = Depends(require(*ANALYSTS))) -> Response:
    chart = await run(_chart, name, ctx)
    await audit(ctx, "analytics.export", "chart", name)
    return Response(
        chart.to_csv(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


@router.get("/analytics/{name}.json")
async def chart_json(name: str, ctx: Ctx = Depends(require(*ANALYSTS))) -> Response:
    chart = await run(_chart, name, ctx)
    return JSONResponse(chart.to_json())
