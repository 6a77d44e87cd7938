"""Jinja2 environment for the console: autoescaping on for every template, so customer text is text.

A customer can type ``<script>alert(1)</script>``; the transcript must show exactly those characters and
run nothing. Autoescape is forced on (not left to file extensions) and no template uses ``|safe`` on data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from bot.console.auth import PREFIX, Ctx
from bot.console.i18n import local_time, t

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"

_env = Environment(
    loader=FileSystemLoader(str(TEMPLATES_DIR)),
    autoescape=select_autoescape(
        enabled_extensions=("html", "htm", "xml", "j2"), default=True, default_for_string=True
    ),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _tojson(value: Any) -> Markup:
    """JSON for a <script type="application/json"> block: '<', '>' and '&' escaped so nothing closes the tag."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)  # noqa: S704 - escaped above, for a non-executable JSON script block


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


_env.filters["localtime"] = local_time
_env.filters["tojson_safe"] = _tojson
_env.filters["pct"] = _pct
_env.globals["P"] = PREFIX


def _asset_version() -> str:
    css = STATIC_DIR / "console.css"
    js = STATIC_DIR / "console.js"
    return str(int(max(css.stat().st_mtime, js.stat().st_mtime))) if css.exists() and js.exists() else "1"


_env.globals["asset_version"] = _asset_version()


def render_to_string(ctx: Ctx, template: str, context: dict[str, Any] | None = None) -> str:
    lang = ctx.lang

    def translate(key: str, **values: object) -> str:
        return t(key, lang, **values)

    data = {
        "ctx": ctx,
        "lang": lang,
        "t": translate,
        "user": ctx.session.user if ctx.session else None,
        "csrf_token": ctx.csrf_token,
        "request": ctx.request,
        "current_path": ctx.request.url.path,
        **(context or {}),
    }
    return _env.get_template(template).render(data)


def render(
    ctx: Ctx,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    return HTMLResponse(render_to_string(ctx, template, context), status_code=status_code, headers=headers)
