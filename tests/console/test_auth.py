"""Login, sessions, CSRF, rate limiting, password hashing and change, logout."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.db.models import AuditLog
from bot.db.models_console import LoginAttempt, StaffSession, StaffUser
from bot.db.session import session_scope
from bot.services import staff
from tests.console.conftest import PASSWORD, Staff, login, login_csrf, make_client, page_csrf


def test_passwords_are_argon2id_hashes(staff_users: Staff) -> None:
    with session_scope() as session:
        row = session.scalar(select(StaffUser).where(StaffUser.email == "ayse@memnun.test"))
        assert row is not None
        assert row.password_hash.startswith("$argon2id$")
        assert PASSWORD not in row.password_hash
    assert staff.verify_password(row.password_hash, PASSWORD)
    assert not staff.verify_password(row.password_hash, PASSWORD + "x")


def test_production_hash_parameters() -> None:
    """RFC 9106's second recommended option (argon2id, t=3, 64 MiB) or stronger."""
    hasher = staff.production_hasher()
    assert hasher.time_cost >= 3
    assert hasher.memory_cost >= 64 * 1024
    assert hasher.hash("a passphrase long enough").startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert staff._DUMMY_HASH.startswith("$argon2id$")


def test_short_password_is_refused(migrated_db: str) -> None:
    import pytest

    from bot.services.errors import InvalidInput

    with pytest.raises(InvalidInput) as error:
        staff.create_user("kisa@memnun.test", "short", "agent")
    assert error.value.code == "password_too_short"


def test_login_sets_hardened_cookie_and_logout_revokes(staff_users: Staff) -> None:
    client = make_client()
    token = login_csrf(client)
    response = client.post(
        "/console/login", data={"email": "Ayse@Memnun.test ", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/console/conversations"
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("memnun_console="))
    lowered = cookie.lower()
    assert "httponly" in lowered and "samesite=lax" in lowered and "path=/console" in lowered
    assert "secure" not in lowered  # settings.secure_cookies is off in tests
    assert client.get("/console/conversations").status_code == 200

    csrf = page_csrf(client)
    out = client.post("/console/logout", data={"csrf_token": csrf})
    assert out.status_code == 303
    with session_scope() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(StaffSession).where(StaffSession.user_id == staff_users.agent.id)
            )
            == 0
        )
    # The old cookie no longer works even if a client kept it.
    assert client.get("/console/conversations").status_code == 303


def test_secure_flag_when_configured(staff_users: Staff, monkeypatch) -> None:
    from bot.settings import get_settings

    monkeypatch.setenv("SECURE_COOKIES", "true")
    get_settings.cache_clear()
    client = make_client("https://testserver")  # a browser sends Secure cookies over HTTPS only
    token = login_csrf(client)
    response = client.post(
        "/console/login", data={"email": "ayse@memnun.test", "password": PASSWORD, "csrf_token": token}
    )
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("memnun_console="))
    assert "secure" in cookie.lower()


def test_wrong_password_and_unknown_user_look_the_same(staff_users: Staff) -> None:
    client = make_client()
    token = login_csrf(client)
    wrong = client.post(
        "/console/login", data={"email": "ayse@memnun.test", "password": "nope-nope-nope", "csrf_token": token}
    )
    token = login_csrf(client)
    unknown = client.post(
        "/console/login", data={"email": "ghost@memnun.test", "password": "nope-nope-nope", "csrf_token": token}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert "E-posta ya da şifre hatalı." in wrong.text and "E-posta ya da şifre hatalı." in unknown.text


def test_login_rate_limit_per_account_and_ip(staff_users: Staff) -> None:
    client = make_client()
    for _ in range(staff.MAX_FAILURES_PER_ACCOUNT_IP):
        token = login_csrf(client)
        response = client.post(
            "/console/login", data={"email": "ayse@memnun.test", "password": "wrong-password", "csrf_token": token}
        )
        assert response.status_code == 401
    token = login_csrf(client)
    # Even the right password is refused while limited (a correct guess must not be distinguishable).
    limited = client.post(
        "/console/login", data={"email": "ayse@memnun.test", "password": PASSWORD, "csrf_token": token}
    )
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    assert "Çok fazla hatalı deneme" in limited.text
    # Another account from the same IP is not locked by those failures.
    other = make_client()
    token = login_csrf(other)
    ok = other.post("/console/login", data={"email": "zeynep@memnun.test", "password": PASSWORD, "csrf_token": token})
    assert ok.status_code == 303
    with session_scope() as session:
        failures = session.scalar(
            select(func.count())
            .select_from(LoginAttempt)
            .where(LoginAttempt.email == "ayse@memnun.test", LoginAttempt.succeeded.is_(False))
        )
    assert failures == staff.MAX_FAILURES_PER_ACCOUNT_IP  # the limited attempt itself is not even checked


def test_rate_limit_window_expires(staff_users: Staff) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from bot.services.tx import utcnow

    for _ in range(staff.MAX_FAILURES_PER_ACCOUNT_IP):
        assert staff.login("ayse@memnun.test", "wrong-password", "10.0.0.9").status == "invalid"
    assert staff.login("ayse@memnun.test", PASSWORD, "10.0.0.9").status == "rate_limited"
    with session_scope(write=True) as session:
        session.execute(update(LoginAttempt).values(attempted_at=utcnow() - timedelta(minutes=16)))
    assert staff.login("ayse@memnun.test", PASSWORD, "10.0.0.9").status == "ok"


def test_login_form_requires_its_csrf_token(staff_users: Staff) -> None:
    client = make_client()
    login_csrf(client)
    response = client.post(
        "/console/login", data={"email": "ayse@memnun.test", "password": PASSWORD, "csrf_token": "forged"}
    )
    assert response.status_code == 403
    assert "memnun_console=" not in " ".join(response.headers.get_list("set-cookie"))


def test_post_without_or_with_wrong_csrf_is_rejected(staff_users: Staff, tracker) -> None:
    tracker.turn("tg-42", "merhaba", "greet", "Merhaba")
    client = make_client()
    csrf = login(client, "ayse@memnun.test")
    missing = client.post("/console/conversations/tg-42/tags", data={"tag": "kargo"})
    wrong = client.post("/console/conversations/tg-42/tags", data={"tag": "kargo", "csrf_token": csrf[:-2] + "xx"})
    header_wrong = client.post(
        "/console/conversations/tg-42/tags", data={"tag": "kargo"}, headers={"X-CSRF-Token": "nope"}
    )
    assert missing.status_code == wrong.status_code == header_wrong.status_code == 403
    assert "Güvenlik doğrulaması başarısız" in missing.text
    from bot.services import review

    assert review.get_summary("tg-42") is None or review.get_summary("tg-42").tags == ()
    ok = client.post("/console/conversations/tg-42/tags", data={"tag": "kargo"}, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 303


def test_csrf_token_of_another_session_is_rejected(staff_users: Staff, tracker) -> None:
    tracker.turn("tg-43", "merhaba", "greet", "Merhaba")
    a, b = make_client(), make_client()
    csrf_a = login(a, "ayse@memnun.test")
    login(b, "mehmet@memnun.test")
    response = b.post("/console/conversations/tg-43/notes", data={"body": "not", "csrf_token": csrf_a})
    assert response.status_code == 403


def test_password_change_ends_other_sessions(staff_users: Staff) -> None:
    phone, laptop = make_client(), make_client()
    login(phone, "ayse@memnun.test")
    csrf = login(laptop, "ayse@memnun.test")
    new_password = "a much longer passphrase"
    mismatch = laptop.post(
        "/console/password", data={"current": PASSWORD, "new": new_password, "repeat": "other", "csrf_token": csrf}
    )
    assert mismatch.status_code == 400
    wrong = laptop.post(
        "/console/password",
        data={"current": "wrong-current", "new": new_password, "repeat": new_password, "csrf_token": csrf},
    )
    assert wrong.status_code == 400 and "Mevcut şifre hatalı" in wrong.text
    done = laptop.post(
        "/console/password", data={"current": PASSWORD, "new": new_password, "repeat": new_password, "csrf_token": csrf}
    )
    assert done.status_code == 200 and "Şifreniz değişti" in done.text
    assert laptop.get("/console/conversations").status_code == 200  # this session stays
    assert phone.get("/console/conversations").status_code == 303  # the other one ended
    assert staff.login("ayse@memnun.test", PASSWORD, "1.2.3.4").status == "invalid"
    assert staff.login("ayse@memnun.test", new_password, "1.2.3.4").status == "ok"
    with session_scope() as session:
        actions = set(session.scalars(select(AuditLog.action).where(AuditLog.actor == f"staff:{staff_users.agent.id}")))
    assert {"console.login", "console.password_change"} <= actions


def test_deactivated_user_is_logged_out(staff_users: Staff) -> None:
    client = make_client()
    login(client, "ayse@memnun.test")
    staff.update_user(staff_users.agent.id, is_active=False)
    assert client.get("/console/conversations").status_code == 303
    assert staff.login("ayse@memnun.test", PASSWORD, "1.2.3.4").status == "invalid"


def test_last_admin_cannot_be_demoted(staff_users: Staff) -> None:
    import pytest

    from bot.services.errors import InvalidInput

    with pytest.raises(InvalidInput) as error:
        staff.update_user(staff_users.admin.id, role="agent")
    assert error.value.code == "last_admin"


def test_open_redirect_after_login_is_refused(staff_users: Staff) -> None:
    client = make_client()
    token = login_csrf(client)
    response = client.post(
        "/console/login",
        data={
            "email": "ayse@memnun.test",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "https://evil.example/phish",
        },
    )
    assert response.headers["location"] == "/console/conversations"
    client = make_client()
    token = login_csrf(client)
    response = client.post(
        "/console/login",
        data={"email": "ayse@memnun.test", "password": PASSWORD, "csrf_token": token, "next": "/console/tickets"},
    )
    assert response.headers["location"] == "/console/tickets"


def test_anonymous_htmx_request_gets_hx_redirect(migrated_db: str) -> None:
    client = make_client()
    response = client.get("/console/live/panel", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["hx-redirect"].startswith("/console/login?next=")


def test_language_toggle(staff_users: Staff) -> None:
    client = make_client()
    assert "Giriş yap" in client.get("/console/login").text
    response = client.get("/console/lang/en", params={"next": "/console/login"})
    assert response.status_code == 303 and response.headers["location"] == "/console/login"
    page = client.get("/console/login")
    assert "Sign in" in page.text and '<html lang="en">' in page.text


def test_every_text_has_both_languages() -> None:
    from bot.console.i18n import TEXTS

    for key, (tr, en) in TEXTS.items():
        assert tr.strip() and en.strip(), key


def test_templates_only_use_known_text_keys() -> None:
    import re
    from pathlib import Path

    from bot.console.i18n import TEXTS

    root = Path(__file__).resolve().parents[2] / "bot" / "console" / "templates"
    used = set()
    for template in root.rglob("*.html"):
        used.update(re.findall(r"""\bt\(\s*["']([a-z_.]+)["']""", template.read_text(encoding="utf-8")))
    # Keys built as t("prefix." ~ value) are checked by the pages' own tests; here only literal keys.
    missing = sorted(k for k in used if not k.endswith(".") and k not in TEXTS)
    assert not missing, missing


def test_mounted_under_console_like_bot_web(staff_users: Staff) -> None:
    """bot/web.py mounts ``create_console_app()`` at /console: links, cookies and redirects must still work."""
    import re

    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from bot.console.app import create_console_app

    parent = FastAPI()
    parent.mount("/console", create_console_app())
    client = TestClient(parent, follow_redirects=False)
    assert client.get("/console/conversations").headers["location"].startswith("/console/login?next=")
    page = client.get("/console/login")
    assert page.status_code == 200 and 'href="/console/static/console.css' in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = client.post(
        "/console/login", data={"email": "ayse@memnun.test", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 303 and response.headers["location"] == "/console/conversations"
    assert client.get("/console/conversations").status_code == 200
    assert client.get("/console/static/vendor/chartjs/chart.umd.min.js").status_code == 200
