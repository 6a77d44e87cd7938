"""Every console route × every role: anonymous -> login, wrong role -> 403, right role -> served.

Marketers never reach transcripts or personal data; agents never reach campaigns (view or edit); only admins
manage users and read the audit log. ``test_route_table_covers_the_app`` fails when a route is added
without being listed here.
"""

from __future__ import annotations

import pytest
from fastapi.routing import _IncludedRouter

from tests.console.conftest import Seeded, Tracker, make_client, seed_conversation

AGENT, MARKETER, ADMIN = "agent", "marketer", "admin"
STAFF = (AGENT, ADMIN)
ANALYSTS = (MARKETER, ADMIN)
EVERYONE = (AGENT, MARKETER, ADMIN)

# (method, path template, roles allowed). "{s}" = seeded Telegram conversation, "{t}" = ticket ref,
# "{f}" = review flag id, "{e}" = a user event id, "{c}" = campaign id, "{u}" = the agent's user id,
# "{r}" = survey response id, "{sf}" = saved filter id.
ROUTES: list[tuple[str, str, tuple[str, ...]]] = [
    ("GET", "/console/", EVERYONE),
    ("GET", "/console/password", EVERYONE),
    ("POST", "/console/password", EVERYONE),
    ("GET", "/console/conversations", STAFF),
    ("GET", "/console/conversations/{s}", STAFF),
    ("GET", "/console/conversations/{s}/transcript", STAFF),
    ("POST", "/console/conversations/{s}/reveal", STAFF),
    ("POST", "/console/conversations/{s}/tags", STAFF),
    ("POST", "/console/conversations/{s}/tags/kargo/delete", STAFF),
    ("POST", "/console/conversations/{s}/notes", STAFF),
    ("POST", "/console/conversations/{s}/reviewed", STAFF),
    ("POST", "/console/conversations/{s}/turns/{e}/intent", STAFF),
    ("GET", "/console/conversations/{s}/export.json", STAFF),
    ("GET", "/console/conversations/{s}/export.csv", STAFF),
    ("GET", "/console/conversations/{s}/story", STAFF),
    ("POST", "/console/filters", STAFF),
    ("POST", "/console/filters/{sf}/delete", STAFF),
    ("GET", "/console/review", STAFF),
    ("POST", "/console/review/flags/{f}/status", STAFF),
    ("GET", "/console/review/corrections", STAFF),
    ("GET", "/console/review/corrections.yml", STAFF),
    ("POST", "/console/review/corrections/applied", STAFF),
    ("GET", "/console/tickets", STAFF),
    ("GET", "/console/tickets/{t}", STAFF),
    ("POST", "/console/tickets/{t}/assign", STAFF),
    ("POST", "/console/tickets/{t}/priority", STAFF),
    ("POST", "/console/tickets/{t}/note", STAFF),
    ("POST", "/console/tickets/{t}/status", STAFF),
    ("GET", "/console/live", STAFF),
    ("GET", "/console/live/panel", STAFF),
    ("GET", "/console/live/badge", STAFF),
    ("POST", "/console/live/low-scores/{r}/dismiss", STAFF),
    ("POST", "/console/conversations/{s}/take", STAFF),
    ("POST", "/console/conversations/{s}/reply", STAFF),
    ("POST", "/console/conversations/{s}/release", STAFF),
    ("GET", "/console/analytics", ANALYSTS),
    ("GET", "/console/analytics/outcomes.csv", ANALYSTS),
    ("GET", "/console/analytics/tiers.json", ANALYSTS),
    ("GET", "/console/campaigns", ANALYSTS),
    ("GET", "/console/campaigns/new", ANALYSTS),
    ("POST", "/console/campaigns", ANALYSTS),
    ("GET", "/console/campaigns/{c}", ANALYSTS),
    ("GET", "/console/campaigns/{c}/dry-run", ANALYSTS),
    ("POST", "/console/campaigns/{c}/pause", ANALYSTS),
    ("GET", "/console/campaigns/{c}/results.csv", ANALYSTS),
    ("GET", "/console/admin/users", (ADMIN,)),
    ("POST", "/console/admin/users", (ADMIN,)),
    ("POST", "/console/admin/users/{u}", (ADMIN,)),
    ("POST", "/console/admin/users/{u}/password", (ADMIN,)),
    ("GET", "/console/admin/audit", (ADMIN,)),
    # Last: it ends the session.
    ("POST", "/console/logout", EVERYONE),
]
# Public by design: the login form, language switch and static files.
PUBLIC = {
    ("GET", "/console/login"),
    ("POST", "/console/login"),
    ("GET", "/console/lang/{code}"),
    ("GET", "/console/static/{path}"),
}


def _app_routes() -> set[tuple[str, str]]:
    from bot.console.app import create_console_app

    found = set()
    for route in create_console_app(standalone=True).routes:
        if isinstance(route, _IncludedRouter):
            for context in route.effective_route_contexts():
                for method in getattr(context.original_route, "methods", set()) or set():
                    found.add((method, context.path_format))
    return found


def _template(path: str) -> str:
    import re

    return re.sub(r"\{[a-z_]+\}", "{}", path)


def test_route_table_covers_the_app() -> None:
    listed = {(m, _template(p)) for m, p, _ in ROUTES} | {(m, _template(p)) for m, p in PUBLIC}
    # Concrete values in the table stand for the app's path parameters.
    normalized_listed = {
        (
            m,
            p.replace("/kargo/", "/{}/")
            .replace("/outcomes.csv", "/{}.csv")
            .replace("/tiers.json", "/{}.json")
            .replace("/pause", "/{}"),
        )
        for m, p in listed
    }
    app = {(m, _template(p)) for m, p in _app_routes()}
    missing = sorted(app - normalized_listed)
    assert not missing, f"routes without a role test: {missing}"


@pytest.fixture
def world(tracker: Tracker, staff_users) -> dict[str, str]:
    from bot.services import campaigns, review

    seeded: Seeded = seed_conversation(tracker)
    flags = review.list_flags(status="new")
    saved = review.save_filter(staff_users.agent.id, "conversations", "mine", "channel=telegram")
    campaign = campaigns.create_campaign(
        {
            "name": "Memnuniyet",
            "survey_type": "csat",
            "template_tr": "Merhaba {first_name}, bizi puanlar mısınız?",
            "template_en": "Hi {first_name}, how did we do?",
            "schedule_kind": "once",
            "run_at": "2099-01-01T10:00",
        },
        "staff:test",
    )
    return {
        "s": seeded.sender_id,
        "t": seeded.ticket_ref,
        "f": str(flags.rows[0].id),
        "e": str(seeded.user_event_ids["low"]),
        "c": str(campaign.id),
        "u": str(staff_users.agent2.id),
        "r": str(seeded.low_survey_id),
        "sf": str(saved.id),
    }


def _url(template: str, world: dict[str, str]) -> str:
    return template.format(**world)


@pytest.mark.parametrize("role", ["anonymous", AGENT, MARKETER, ADMIN])
def test_every_route_checks_the_role(role: str, world: dict[str, str], as_role) -> None:
    problems: list[str] = []
    if role == "anonymous":
        client = make_client()
        for method, template, _ in ROUTES:
            url = _url(template, world)
            response = client.request(method, url, data={} if method == "POST" else None)
            location = response.headers.get("location", "")
            if response.status_code != 303 or not location.startswith("/console/login?next="):
                problems.append(f"{method} {url}: anonymous got {response.status_code} {location}")
        assert not problems, "\n".join(problems)
        return

    session = as_role(role)
    for method, template, allowed in ROUTES:
        url = _url(template, world)
        response = session.post(url) if method == "POST" else session.get(url)
        location = response.headers.get("location", "")
        if role in allowed:
            if response.status_code == 403 or location.startswith("/console/login?next="):
                problems.append(f"{method} {url}: {role} is allowed but got {response.status_code} {location}")
            if response.status_code >= 500:
                problems.append(f"{method} {url}: {role} got a server error {response.status_code}")
        elif response.status_code != 403:
            problems.append(f"{method} {url}: {role} must get 403, got {response.status_code}")
    assert not problems, "\n".join(problems)


def test_forbidden_page_is_a_page_not_a_leak(world: dict[str, str], as_role) -> None:
    marketer = as_role(MARKETER)
    response = marketer.get(f"/console/conversations/{world['s']}")
    assert response.status_code == 403
    assert "Bu sayfaya erişiminiz yok" in response.text
    # Nothing of the conversation leaks into the error page.
    assert "SP1234567" not in response.text and "merhaba" not in response.text.lower().replace("memnun", "")
    story = marketer.get(f"/console/conversations/{world['s']}/story")
    assert story.status_code == 403 and "intent" not in story.text


def test_agent_cannot_change_campaigns(world: dict[str, str], as_role) -> None:
    from bot.services import campaigns

    agent = as_role(AGENT)
    for action in ("schedule", "pause", "resume", "cancel"):
        assert agent.post(f"/console/campaigns/{world['c']}/{action}").status_code == 403
    assert agent.post("/console/campaigns", data={"name": "x", "survey_type": "csat"}).status_code == 403
    assert campaigns.get_campaign(int(world["c"])).status == "draft"
