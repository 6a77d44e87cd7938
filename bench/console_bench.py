"""Console benchmark: 100,000 conversations / 2,000,000 Rasa tracker events in PostgreSQL.

What it does, on this machine, against the PostgreSQL server on 127.0.0.1 only, and stops by itself:

1. creates a throw-away database, migrates it, creates Rasa's ``events`` table (Rasa 3.6 SQLTrackerStore
   schema) and bulk-loads N conversations x ~20 events with ``COPY`` (realistic event JSON: user turns with
   intents, confidences, entities and metadata; actions; bot utterances; slots; 5% NLU fallbacks, 10%
   low-confidence turns), plus tickets and CSAT answers for a few per cent of them;
2. runs :func:`bot.services.tracker_events.sync_summaries` from scratch (throughput of the incremental
   reporting-table builder);
3. measures p50/p95 of the conversation list (first page and a deep keyset page, with and without filters)
   and of a transcript, at the service layer and through HTTP (FastAPI TestClient, logged-in agent, full
   page rendering, audit entry included);
4. records ``EXPLAIN (ANALYZE, BUFFERS)`` of every list query and checks that each uses an index.

Writes ``reports/bench/console.json`` and ``console.md``; drops the database unless ``--keep``.

    python bench/console_bench.py [--conversations 100000] [--events-per-conversation 20] [--repeat 30]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ADMIN_URL = os.environ.get("MEMNUN_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REPORT_DIR = ROOT / "reports" / "bench"
INTENTS = [
    ("greet", "merhaba"),
    ("track_order", "siparişim nerede"),
    ("check_points", "puanım ne kadar"),
    ("ask_refund", "iade nasıl yapılır"),
    ("complain", "kargo çok geç geldi şikayet ediyorum"),
    ("ask_offers", "kampanya var mı"),
    ("goodbye", "görüşürüz"),
    ("thank", "teşekkürler"),
    ("redeem_reward", "puanlarımı kullanmak istiyorum"),
    ("ask_store_hours", "mağaza kaçta açılıyor"),
    ("affirm", "evet"),
    ("deny", "hayır"),
    ("human_handoff", "bir temsilciyle görüşmek istiyorum"),
]
EN_TEXTS = {
    "greet": "hello",
    "track_order": "where is my order",
    "check_points": "how many points do I have",
    "ask_refund": "how do I return this",
    "complain": "the parcel arrived damaged",
}


def _migrate(url: str) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "bot" / "db" / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(cfg, "head")


def _create_database() -> tuple[str, str]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"memnun_console_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return name, make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def _drop_database(name: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _psycopg_dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _event_rows(n_conversations: int, events_per_conversation: int, seed: int) -> Any:
    """Yields COPY lines (tab separated) for the events table, conversation by conversation."""
    rng = random.Random(seed)
    now = time.time()
    span = 90 * 86400
    turns = max(1, -(-(events_per_conversation - 2) // 4))  # enough turns; the rows are cut to the count
    for index in range(n_conversations):
        web = index % 3 == 0
        sender = f"web-{uuid.UUID(int=rng.getrandbits(128), version=4)}" if web else f"tg-{100000000 + index}"
        lang = "en" if index % 10 == 0 else "tr"
        channel = "web" if web else "telegram"
        ts = now - rng.random() * span
        rows = [
            (
                "action",
                None,
                "action_session_start",
                {"event": "action", "name": "action_session_start", "policy": None, "confidence": 1.0},
            ),
            ("session_started", None, None, {"event": "session_started"}),
        ]
        for _ in range(turns):
            intent, text = rng.choice(INTENTS)
            if lang == "en":
                text = EN_TEXTS.get(intent, intent.replace("_", " "))
            roll = rng.random()
            confidence = rng.uniform(0.8, 0.999)
            name = intent
            ranking = [{"name": intent, "confidence": confidence}]
            if roll < 0.05:
                name, confidence = "nlu_fallback", 0.3
                ranking = [{"name": "nlu_fallback", "confidence": 0.3}, {"name": intent, "confidence": 0.25}]
                text = "asdf " + text[::-1]
            elif roll < 0.15:
                confidence = rng.uniform(0.35, 0.59)
            entities = []
            if intent == "track_order" and rng.random() < 0.5:
                number = f"SP{rng.randrange(10**6, 10**7)}"
                text = f"{number} {text}"
                entities = [{"entity": "order_number", "start": 0, "end": 9, "value": number}]
            metadata = {"channel": channel, "language_hint": lang}
            user = {
                "event": "user",
                "text": text,
                "input_channel": channel,
                "message_id": uuid.uuid4().hex,
                "metadata": metadata,
                "parse_data": {
                    "intent": {"name": name, "confidence": confidence},
                    "entities": entities,
                    "text": text,
                    "intent_ranking": ranking,
                    "metadata": metadata,
                },
            }
            action = "action_default_fallback" if name == "nlu_fallback" else f"utter_{intent}"
            rows.append(("user", name, None, user))
            rows.append(
                ("action", None, action, {"event": "action", "name": action, "policy": "TEDPolicy", "confidence": 0.97})
            )
            rows.append(("bot", None, None, {"event": "bot", "text": f"Yanıt: {intent}", "data": {}, "metadata": {}}))
            rows.append(
                (
                    "action",
                    None,
                    "action_listen",
                    {"event": "action", "name": "action_listen", "policy": "TEDPolicy", "confidence": 0.99},
                )
            )
        for type_name, intent_name, action_name, data in rows[:events_per_conversation]:
            ts += rng.uniform(1, 20)
            data["timestamp"] = ts
            payload = (
                json.dumps(data, ensure_ascii=False).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            )
            yield "\t".join([sender, type_name, repr(ts), intent_name or "\\N", action_name or "\\N", payload]) + "\n"


def load_events(url: str, n_conversations: int, events_per_conversation: int, seed: int) -> dict[str, Any]:
    import psycopg

    started = time.monotonic()
    count = 0
    with psycopg.connect(_psycopg_dsn(url)) as conn, conn.cursor() as cur:
        cur.execute(
            "CREATE TABLE events (id SERIAL NOT NULL, sender_id VARCHAR(255) NOT NULL, type_name VARCHAR(255) NOT NULL,"
            " timestamp FLOAT, intent_name VARCHAR(255), action_name VARCHAR(255), data TEXT, PRIMARY KEY (id))"
        )
        with cur.copy(
            "COPY events (sender_id, type_name, timestamp, intent_name, action_name, data) FROM STDIN"
        ) as copy:
            buffer = io.StringIO()
            for line in _event_rows(n_conversations, events_per_conversation, seed):
                buffer.write(line)
                count += 1
                if count % 20_000 == 0:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
            copy.write(buffer.getvalue())
        # Rasa creates this index with the table; building it after the load is the bulk-load idiom.
        cur.execute("CREATE INDEX ix_events_sender_id ON events (sender_id)")
        cur.execute("ANALYZE events")
        conn.commit()
    return {"events": count, "seconds": round(time.monotonic() - started, 1)}


def load_our_data(url: str, n_conversations: int, seed: int) -> dict[str, int]:
    """Tickets for ~3% and CSAT answers for ~5% of the conversations (set-based SQL, bench only)."""
    import psycopg

    with psycopg.connect(_psycopg_dsn(url)) as conn, conn.cursor() as cur:
        cur.execute("SELECT setseed(%s)", (seed / 1000.0 % 1,))
        cur.execute(
            """
            INSERT INTO tickets (ref, category, description, status, priority, channel, conversation_id, language,
                                 source, idempotency_key, created_at, updated_at, first_response_due_at)
            SELECT 'T-2026-' || lpad(s.n::text, 6, '0'), 'delivery', 'Kargo gecikti', 'open', 'normal',
                   CASE WHEN s.sender_id LIKE 'tg-%%' THEN 'telegram' ELSE 'web' END, s.sender_id, 'tr', 'complaint',
                   'bench-ticket-' || s.n, now(), now(), now() + interval '24 hours'
            FROM (SELECT sender_id, row_number() OVER () AS n FROM (SELECT DISTINCT sender_id FROM events) d
                  WHERE random() < 0.03) s
            """
        )
        tickets = cur.rowcount
        cur.execute(
            """
            INSERT INTO survey_responses (kind, score, channel, conversation_id, language, idempotency_key, created_at)
            SELECT 'csat', 1 + floor(random() * 5)::int,
                   CASE WHEN d.sender_id LIKE 'tg-%%' THEN 'telegram' ELSE 'web' END, d.sender_id, 'tr',
                   'bench-survey-' || d.sender_id, now()
            FROM (SELECT DISTINCT sender_id FROM events) d WHERE random() < 0.05
            """
        )
        surveys = cur.rowcount
        conn.commit()
    return {"tickets": tickets, "survey_responses": surveys}


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

    return {
        "p50_ms": pick(0.50),
        "p95_ms": pick(0.95),
        "max_ms": round(ordered[-1] * 1000, 2),
        "mean_ms": round(statistics.mean(ordered) * 1000, 2),
        "n": len(ordered),
    }


def _time(fn: Any, repeat: int) -> dict[str, float]:
    fn()  # warm-up (plans, caches)
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return _percentiles(samples)


def list_scenarios() -> dict[str, Any]:
    from datetime import date

    from bot.services.review import ConversationFilters

    today = date.today()
    return {
        "default (latest first)": ConversationFilters(),
        "channel=telegram": ConversationFilters(channel="telegram"),
        "language=en": ConversationFilters(language="en"),
        "intent=complain": ConversationFilters(intent="complain"),
        "fallback turns": ConversationFilters(problem="fallback"),
        "low confidence, not reviewed": ConversationFilters(problem="low_confidence", reviewed=False),
        "has complaint": ConversationFilters(has_complaint=True),
        "CSAT <= 2": ConversationFilters(score_kind="csat", score_max=2),
        "last 7 days, web": ConversationFilters(date_from=today - timedelta(days=7), channel="web"),
        "full text 'kargo'": ConversationFilters(q="kargo"),
        "full text 'SP1' prefix + intent": ConversationFilters(q="sp1", intent="track_order"),
        "sort by lowest confidence": ConversationFilters(sort="confidence", direction="asc"),
    }


def explain(filters: Any, cursor: str | None = None) -> tuple[str, bool]:
    from bot.db.session import get_engine
    from bot.services.review import conversation_query, count_query

    engine = get_engine()
    plans = []
    with engine.connect() as conn:
        from sqlalchemy.orm import Session

        session = Session(bind=conn)
        stmt, _, conditions = conversation_query(session, filters, cursor=cursor)
        for label, statement in (("page", stmt), ("count (capped)", count_query(conditions))):
            compiled = statement.compile(dialect=conn.dialect)
            params = compiled.construct_params()
            processors = compiled._bind_processors  # noqa: SLF001 - apply type processing like execute() does
            params = {k: processors[k](v) if k in processors else v for k, v in params.items()}
            rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + str(compiled), params).all()
            plans.append(f"-- {label}\n" + "\n".join(r[0] for r in rows))
        session.close()
    text = "\n".join(plans)
    page_plan = plans[0]
    uses_index = "Index" in page_plan or "Bitmap" in page_plan
    return text, uses_index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--events-per-conversation", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=30, help="timed runs per scenario (after one warm-up)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args(argv)

    name, url = _create_database()
    print(f"[console-bench] database {name}", flush=True)
    report: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "conversations": args.conversations,
        "events_per_conversation": args.events_per_conversation,
        "machine": {"cpus": os.cpu_count()},
    }
    try:
        os.environ["DATABASE_URL"] = url
        os.environ.pop("TRACKER_DATABASE_URL", None)
        from bot.settings import get_settings

        get_settings.cache_clear()
        from bot.db.session import reset_engine

        reset_engine()
        _migrate(url)
        print("[console-bench] loading tracker events with COPY ...", flush=True)
        report["load"] = load_events(url, args.conversations, args.events_per_conversation, args.seed)
        report["load"].update(load_our_data(url, args.conversations, args.seed))
        print(f"[console-bench] loaded {report['load']}", flush=True)

        from bot.services import tracker_events

        tracker_events.reset_tracker_engines()
        started = time.monotonic()
        sync = tracker_events.sync_summaries(batch_size=10_000)
        seconds = time.monotonic() - started
        report["sync"] = {
            "events": sync.events_read,
            "conversations": sync.conversations_touched,
            "flags": sync.flags_created,
            "seconds": round(seconds, 1),
            "events_per_second": round(sync.events_read / seconds) if seconds else None,
        }
        print(f"[console-bench] sync {report['sync']}", flush=True)
        from sqlalchemy import text

        from bot.db.session import get_engine

        with get_engine().begin() as conn:
            conn.execute(text("ANALYZE"))
            incremental_started = time.monotonic()
        # An incremental run with nothing new (what the page-load sync costs in steady state).
        report["sync"]["idle_run_ms"] = _time(lambda: tracker_events.sync_summaries(time_budget_s=0.3), 10)
        del incremental_started

        from bot.services import review

        scenarios = list_scenarios()
        results: dict[str, Any] = {}
        for label, filters in scenarios.items():
            first = review.list_conversations(filters)
            cursor = first.next_cursor
            # A deep page: follow the keyset cursor 20 pages down.
            for _ in range(19):
                if cursor is None:
                    break
                cursor = review.list_conversations(filters, cursor=cursor, with_total=False).next_cursor
            plan, uses_index = explain(filters)
            results[label] = {
                "matches": f"{first.total}{'+' if first.total_is_capped else ''}",
                "first_page": _time(lambda f=filters: review.list_conversations(f), args.repeat),
                "page_21": _time(
                    lambda f=filters, c=cursor: review.list_conversations(f, cursor=c, with_total=False), args.repeat
                )
                if cursor
                else None,
                "uses_index": uses_index,
                "plan": plan,
            }
            print(f"[console-bench] list {label}: {results[label]['first_page']} index={uses_index}", flush=True)
        report["list"] = results

        # Transcripts of random conversations.
        with get_engine().connect() as conn:
            senders = [
                r[0]
                for r in conn.execute(
                    text("SELECT sender_id FROM conversation_summaries ORDER BY md5(sender_id) LIMIT 200")
                )
            ]
        rng = random.Random(args.seed)
        report["transcript"] = _time(lambda: review.load_transcript(rng.choice(senders)), args.repeat)
        with get_engine().connect() as conn:
            rows = conn.exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM events WHERE sender_id = %(s)s ORDER BY id LIMIT 5000",
                {"s": senders[0]},
            ).all()
        report["transcript"]["plan"] = "\n".join(r[0] for r in rows)
        report["transcript"]["uses_index"] = "ix_events_sender_id" in report["transcript"]["plan"]
        print(f"[console-bench] transcript {report['transcript']['p50_ms']} ms p50", flush=True)

        report["http"] = _http(senders, args.repeat, rng)
        print(f"[console-bench] http {report['http']}", flush=True)
    finally:
        from bot.db.session import reset_engine

        reset_engine()
        try:
            from bot.services.tracker_events import reset_tracker_engines

            reset_tracker_engines()
        except ImportError:
            pass
        if not args.keep:
            _drop_database(name)
    report["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    _write(report)
    failing = [k for k, v in report["list"].items() if not v["uses_index"]]
    if failing:
        print(f"[console-bench] WARNING: no index used for {failing}", flush=True)
    return 0


def _http(senders: list[str], repeat: int, rng: random.Random) -> dict[str, Any]:
    """Through the web app: logged-in agent, full rendering, audit entry, page-load sync (idle)."""
    import re

    from fastapi.testclient import TestClient

    from bot.console.app import create_console_app
    from bot.services import staff

    password = "bench password long enough"
    staff.create_user(f"bench-{uuid.uuid4().hex[:6]}@memnun.test", password, "agent")
    email = staff.list_users()[-1].email
    with TestClient(create_console_app(standalone=True), follow_redirects=False) as client:
        page = client.get("/console/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        assert (
            client.post("/console/login", data={"email": email, "password": password, "csrf_token": token}).status_code
            == 303
        )
        return {
            "GET /console/conversations": _time(lambda: client.get("/console/conversations"), repeat),
            "GET /console/conversations?channel=web&problem=fallback": _time(
                lambda: client.get("/console/conversations", params={"channel": "web", "problem": "fallback"}), repeat
            ),
            "GET /console/conversations?q=kargo (htmx fragment)": _time(
                lambda: client.get(
                    "/console/conversations",
                    params={"q": "kargo"},
                    headers={"HX-Request": "true", "HX-Target": "results"},
                ),
                repeat,
            ),
            "GET /console/conversations/{id}": _time(
                lambda: client.get(f"/console/conversations/{rng.choice(senders)}"), repeat
            ),
        }


def _write(report: dict[str, Any]) -> None:
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    (REPORT_DIR / "console.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    lines = [
        "# Console benchmark",
        "",
        f"{report['conversations']:,} conversations × {report['events_per_conversation']} events in PostgreSQL "
        f"(`{report['load']['events']:,}` tracker events, {report['load']['tickets']:,} tickets, "
        f"{report['load']['survey_responses']:,} CSAT answers), {report['machine']['cpus']} CPUs.",
        "",
        f"- COPY load: {report['load']['seconds']} s",
        f"- `sync_summaries` from scratch: {report['sync']['seconds']} s "
        f"({report['sync']['events_per_second']:,} events/s, {report['sync']['conversations']:,} conversations, "
        f"{report['sync']['flags']:,} review flags)",
        f"- idle incremental sync (page load): p50 {report['sync']['idle_run_ms']['p50_ms']} ms, "
        f"p95 {report['sync']['idle_run_ms']['p95_ms']} ms",
        "",
        "## Conversation list (service layer, 50 rows + capped count)",
        "",
        "| filter | matches | first page p50 / p95 ms | page 21 p50 / p95 ms | index used |",
        "|---|---|---|---|---|",
    ]
    for label, r in report["list"].items():
        deep = f"{r['page_21']['p50_ms']} / {r['page_21']['p95_ms']}" if r["page_21"] else "—"
        lines.append(
            f"| {label} | {r['matches']} | {r['first_page']['p50_ms']} / {r['first_page']['p95_ms']} | "
            f"{deep} | {'yes' if r['uses_index'] else 'NO'} |"
        )
    t = report["transcript"]
    lines += [
        "",
        f"## Transcript\n\n`load_transcript` (tracker events by sender + our tables): p50 {t['p50_ms']} ms, "
        f"p95 {t['p95_ms']} ms; events by `ix_events_sender_id`: {'yes' if t['uses_index'] else 'NO'}.",
        "",
        "## Through HTTP (logged-in agent, rendering + audit entry)",
        "",
        "| request | p50 ms | p95 ms |",
        "|---|---|---|",
    ]
    for label, r in report["http"].items():
        lines.append(f"| `{label}` | {r['p50_ms']} | {r['p95_ms']} |")
    lines += ["", "## Plans (EXPLAIN ANALYZE)", ""]
    for label, r in report["list"].items():
        lines += [f"### {label}", "", "```", r["plan"], "```", ""]
    lines += ["### transcript events", "", "```", t["plan"], "```", ""]
    (REPORT_DIR / "console.md").write_text("\n".join(lines), encoding="utf-8")
    print(f"[console-bench] wrote {REPORT_DIR / 'console.md'}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
