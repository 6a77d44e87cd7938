"""Helpers shared by the route modules: audit entries, thread offloading, small parsers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import date
from typing import Any, ParamSpec, TypeVar

from fastapi import APIRouter

from bot.console.auth import ConsoleRoute, Ctx
from bot.services import audit as audit_service

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


def make_router() -> APIRouter:
    return APIRouter(route_class=ConsoleRoute)


async def run(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Services are synchronous (one DB transaction each): keep them off the event loop."""
    return await asyncio.to_thread(fn, *args, **kwargs)


async def audit(ctx: Ctx, action: str, entity: str, entity_id: str | int | None, **details: Any) -> None:
    """Who (staff id), what (action), which record, when (the entry's timestamp). Ids and codes only."""
    await run(audit_service.record, ctx.actor, action, entity, entity_id, details)


def parse_date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def parse_int(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        return None


def parse_bool(value: str | None) -> bool | None:
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    return None


def is_htmx(ctx: Ctx) -> bool:
    return bool(ctx.request.headers.get("hx-request"))
