"""Chat load benchmark: many simultaneous conversations against the real stack, beside a bare Rasa baseline.

What runs, all on 127.0.0.1 and all stopped by this process (process groups killed in ``finally``):

1. **REST, our stack** — K Rasa servers (``--instances``) with our model, PostgreSQL tracker store and data
   in a fresh database ``memnun_bench_<timestamp>`` (migrated, demo data seeded, dropped at the end), the
   Redis lock store and our action server. Conversations are routed to a Rasa process by sender id
   (:class:`bot.channels.rasa_client.RasaClient`, exactly as the product does).
2. **Telegram** — the same stack behind the real Telegram connector (``python -m bot.channels.telegram``,
   production timings and per-chat rate limits) talking to the fake Bot API server in this process;
   latency runs from the moment an update is enqueued to the recorded ``sendMessage``.
3. **Baseline** — a bare ``rasa init --no-prompt`` assistant (cached under ~/.cache/memnun/bench/) served
   by one ``rasa run --enable-api`` with its default endpoints (in-memory tracker and lock stores), driven
   the same way with its own kind of messages.

Conversations are closed loop: each sends its next message when the previous reply has arrived (plus
``--think-ms``). A conversation that finishes its script starts again as a new customer (new sender id).
After the window, every sender's ``user`` events are counted in the tracker store and compared with the
messages sent: each message must have been answered and stored exactly once.

Writes ``<out>/chat.json`` and ``<out>/chat.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BENCH_TOKEN = "bench-rasa-token"
BENCH_SECRET = "bench-secret-key-not-for-production"
PG_ADMIN_URL = os.environ.get("MEMNUN_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
#: A Redis database of its own so the benchmark's locks never meet a running deployment's.
REDIS_URL = os.environ.get("MEMNUN_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
BASELINE_DIR = Path(os.environ.get("MEMNUN_BENCH_CACHE", Path.home() / ".cache" / "memnun" / "bench")) / "rasa-init"


# --------------------------------------------------------------------------------------------------------------
# Conversation scripts
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Turn:
    """One customer message; ``expect`` = substrings (any, case-insensitive) a correct answer contains."""

    text: str
    expect: tuple[str, ...] = ()


@dataclass(frozen=True)
class Script:
    name: str
    language: str
    turns: tuple[Turn, ...]


# Orders come from the seeded demo data (bot/services/seed.py): SP1000001 shipped with Yurtiçi Kargo,
# SP1000002 delivered three days ago. The order number alone is enough to track (no identification).
OUR_SCRIPTS: tuple[Script, ...] = (
    Script("tr-order-tracking", "tr", (
        Turn("merhaba"),
        Turn("SP1000001 numaralı siparişim nerede?", ("SP1000001", "kargo")),
        Turn("teşekkürler"),
        Turn("görüşürüz"),
    )),
    Script("tr-faq", "tr", (
        Turn("selam"),
        Turn("mağazalarınız kaçta açılıyor?"),
        Turn("kargo ücreti ne kadar?"),
        Turn("sağ olun"),
    )),
    Script("en-order-tracking", "en", (
        Turn("hello"),
        Turn("where is my order SP1000002?", ("SP1000002", "deliver")),
        Turn("thank you"),
        Turn("bye"),
    )),
    Script("en-faq", "en", (
        Turn("hi there"),
        Turn("what are your opening hours?"),
        Turn("how can I return a product?"),
        Turn("thanks"),
    )),
    Script("tr-store-returns", "tr", (
        Turn("iyi günler"),
        Turn("en yakın mağazanız nerede?"),
        Turn("iade nasıl yapılıyor?"),
        Turn("teşekkür ederim"),
    )),
)

# rasa init's "moodbot": greet / mood_unhappy / affirm / goodbye and friends.
BASELINE_SCRIPTS: tuple[Script, ...] = (
    Script("moodbot-sad", "en", (Turn("hello"), Turn("I am sad"), Turn("yes"), Turn("bye"))),
    Script("moodbot-happy", "en", (Turn("hi"), Turn("I am great"), Turn("thanks, bye"))),
    Script("moodbot-sad-no", "en", (Turn("hey there"), Turn("very sad"), Turn("no"), Turn("goodbye"))),
)


# --------------------------------------------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------------------------------------------


@dataclass
class Sample:
    sender: str
    script: str
    turn: int
    sent_at: float
    latency_s: float | None  # None: no answer (error/timeout)
    outcome: str  # ok | timeout | error:<kind>
    replies: int = 0
    expectation_met: bool | None = None


@dataclass
class RunResult:
    channel: str
    conversations: int
    window_s: float
    samples: list[Sample] = field(default_factory=list)
    elapsed_s: float = 0.0
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def sent_per_sender(self) -> Counter[str]:
        return Counter(sample.sender for sample in self.samples)

    def summary(self) -> dict[str, Any]:
        answered = [s for s in self.samples if s.outcome == "ok"]
        latencies = sorted(s.latency_s for s in answered if s.latency_s is not None)
        outcomes = Counter(s.outcome for s in self.samples)
        checked = [s for s in answered if s.expectation_met is not None]
        return {
            "channel": self.channel,
            "conversations": self.conversations,
            "window_s": self.window_s,
            "elapsed_s": round(self.elapsed_s, 2),
            "messages_sent": len(self.samples),
            "messages_answered": len(answered),
            "messages_per_s": round(len(answered) / self.elapsed_s, 2) if self.elapsed_s else 0.0,
            "latency_ms": {
                "p50": _percentile_ms(latencies, 50),
                "p95": _percentile_ms(latencies, 95),
                "p99": _percentile_ms(latencies, 99),
                "max": round(latencies[-1] * 1000) if latencies else None,
                "mean": round(statistics.fmean(latencies) * 1000) if latencies else None,
            },
            "outcomes": dict(outcomes),
            "errors": sum(n for k, n in outcomes.items() if k.startswith("error")),
            "timeouts": outcomes.get("timeout", 0),
            "empty_replies": sum(1 for s in answered if s.replies == 0),
            "content_checks": {"checked": len(checked), "passed": sum(1 for s in checked if s.expectation_met)},
            "senders": len(self.sent_per_sender()),
            "notes": self.notes,
            **self.extra,
        }


def _percentile_ms(sorted_values: list[float], pct: float) -> int | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(pct / 100 * len(sorted_values) + 0.5) - 1))
    return round(sorted_values[index] * 1000)


def _meets(expect: tuple[str, ...], texts: list[str]) -> bool | None:
    if not expect:
        return None
    joined = " ".join(texts).casefold()
    return any(item.casefold() in joined for item in expect)


class CpuSampler:
    """CPU seconds used by given processes (and the whole machine) between start() and stop()."""

    def __init__(self, pids: dict[str, list[int]]) -> None:
        self.pids = pids
        self._start: dict[str, float] = {}
        self._machine_start: tuple[float, float] = (0.0, 0.0)
        self._t0 = 0.0

    @staticmethod
    def _proc_cpu(pid: int) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _machine() -> tuple[float, float]:
        try:
            values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        except OSError:
            return 0.0, 0.0
        idle = values[3] + (values[4] if len(values) > 4 else 0)
        return float(sum(values)), float(idle)

    def _group_cpu(self) -> dict[str, float]:
        return {name: sum(self._proc_cpu(pid) for pid in pids) for name, pids in self.pids.items()}

    def start(self) -> None:
        self._start = self._group_cpu()
        self._machine_start = self._machine()
        self._t0 = time.monotonic()

    def stop(self) -> dict[str, Any]:
        wall = max(time.monotonic() - self._t0, 1e-9)
        now = self._group_cpu()
        total, idle = self._machine()
        d_total, d_idle = total - self._machine_start[0], idle - self._machine_start[1]
        return {
            "machine_busy_pct": round(100 * (1 - d_idle / d_total), 1) if d_total else None,
            "cores_used_by": {name: round((now[name] - self._start.get(name, 0.0)) / wall, 2) for name in now},
        }


# --------------------------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_port_range(count: int) -> int:
    """A base port with ``count`` consecutive free ports (Rasa instances listen on RASA_PORT + i)."""
    for _ in range(200):
        base = free_port()
        if base + count >= 65535:
            continue
        ok = True
        for offset in range(1, count):
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", base + offset))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError(f"no {count} consecutive free ports")


class Processes:
    """Subprocesses in their own process groups, logged to files, always killed by :meth:`stop_all`."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        log_dir.mkdir(parents=True, exist_ok=True)

    def spawn(self, name: str, command: list[str], env: dict[str, str], cwd: Path = ROOT) -> subprocess.Popen[bytes]:
        with open(self.log_dir / f"{name}.log", "ab") as log:
            proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        self.procs[name] = proc
        return proc

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.tail(name)}")

    def tail(self, name: str, lines: int = 30) -> str:
        path = self.log_dir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop_all(self) -> None:
        for name in reversed(list(self.procs)):
            self.stop(name)

    def pids(self, prefix: str) -> list[int]:
        return [proc.pid for name, proc in self.procs.items() if name.startswith(prefix)]


async def wait_http_ok(urls: list[str], processes: Processes, timeout_s: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    pending = list(urls)
    async with httpx.AsyncClient(timeout=5.0) as client:
        while pending:
            processes.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"not up after {timeout_s:.0f}s: {pending}; logs in {processes.log_dir}")
            try:
                if (await client.get(pending[0])).status_code == 200:
                    pending.pop(0)
                    continue
            except httpx.HTTPError:
                pass
            await asyncio.sleep(1.0)


# --------------------------------------------------------------------------------------------------------------
# PostgreSQL database for one run
# --------------------------------------------------------------------------------------------------------------


def create_database(name: str) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_database(name: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def prepare_data(url: str) -> None:
    """Migrate and seed the demo data in the fresh database (through our own code, as `memnun run` does)."""
    from bot.db.migrate import upgrade
    from bot.db.session import reset_engine
    from bot.settings import get_settings

    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    reset_engine()
    upgrade(url=url)
    from bot.services.seed import seed_demo_data

    seed_demo_data(None)
    reset_engine()


def user_events_per_sender(url: str, prefix: str) -> tuple[Counter[str], dict[str, list[int]]]:
    """Customer messages per sender in Rasa's SQL tracker store, and per message the number of bot events.

    A ``user`` event right after a ``rewind`` (UserUtteranceReverted, e.g. the two-stage fallback's
    "did you mean…?" being answered) is Rasa replaying the message it already stored, not a new message;
    it is not counted again, and the bot messages after it belong to the original message.
    """
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    users: Counter[str] = Counter()
    bots_after: dict[str, list[int]] = defaultdict(list)
    replay_next: set[str] = set()
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT sender_id, type_name FROM events WHERE sender_id LIKE :p ORDER BY id"),
                {"p": prefix + "%"},
            ).all()
    finally:
        engine.dispose()
    for sender, type_name in rows:
        if type_name == "rewind":
            replay_next.add(sender)
        elif type_name == "user":
            if sender in replay_next:
                replay_next.discard(sender)
                continue
            users[sender] += 1
            bots_after[sender].append(0)
        elif type_name == "bot" and bots_after[sender]:
            bots_after[sender][-1] += 1
    return users, dict(bots_after)


def stored_once_check(sent: Counter[str], stored: Counter[str]) -> dict[str, Any]:
    mismatched = {s: (sent[s], stored.get(s, 0)) for s in sent if stored.get(s, 0) != sent[s]}
    extra = [s for s in stored if s not in sent]
    return {
        "senders": len(sent),
        "messages_sent": sum(sent.values()),
        "user_events_stored": sum(stored.get(s, 0) for s in sent),
        "senders_mismatched": len(mismatched),
        "mismatch_examples": {s: {"sent": a, "stored": b} for s, (a, b) in list(mismatched.items())[:10]},
        "unexpected_senders": len(extra),
        "exactly_once": not mismatched and not extra,
    }


# --------------------------------------------------------------------------------------------------------------
# Load drivers
# --------------------------------------------------------------------------------------------------------------

SendFn = Callable[[str, Script, Turn], Awaitable[list[dict[str, Any]]]]


async def drive(
    channel: str,
    send: SendFn,
    scripts: tuple[Script, ...],
    *,
    conversations: int,
    seconds: float,
    think_ms: int,
    timeout_s: float,
    sender_prefix: str,
) -> RunResult:
    """Closed-loop conversations until the window closes; in-flight messages are awaited (up to timeout)."""
    from bot.channels.rasa_client import RasaRequestRejected, RasaUnavailable

    result = RunResult(channel=channel, conversations=conversations, window_s=seconds)
    started = time.monotonic()
    deadline = started + seconds

    async def conversation(index: int) -> None:
        script = scripts[index % len(scripts)]
        # Spread the first messages over ~1 s: real customers do not press Enter on the same millisecond.
        await asyncio.sleep((index % 100) / 100)
        rounds = 0
        while time.monotonic() < deadline:
            sender = f"{sender_prefix}-{index}-{rounds}"
            for number, turn in enumerate(script.turns):
                if time.monotonic() >= deadline:
                    return
                t0 = time.monotonic()
                try:
                    replies = await asyncio.wait_for(send(sender, script, turn), timeout_s)
                except TimeoutError:
                    result.samples.append(Sample(sender, script.name, number, t0, None, "timeout"))
                    continue
                except (RasaUnavailable, RasaRequestRejected) as exc:
                    kind = "timeout" if "Timeout" in str(exc) else f"error:{type(exc).__name__}"
                    result.samples.append(Sample(sender, script.name, number, t0, None, kind))
                    await asyncio.sleep(0.5)  # a failing server is not hammered by a tight loop
                    continue
                latency = time.monotonic() - t0
                texts = [str(r.get("text") or "") for r in replies]
                result.samples.append(Sample(sender, script.name, number, t0, latency, "ok", len(replies),
                                             _meets(turn.expect, texts)))
                if think_ms:
                    await asyncio.sleep(think_ms / 1000)
            rounds += 1

    await asyncio.gather(*(conversation(i) for i in range(conversations)))
    result.elapsed_s = time.monotonic() - started
    return result


async def run_rest(
    channel: str, settings: Any, scripts: tuple[Script, ...], args: argparse.Namespace, sender_prefix: str,
    *, token: str | None = None, fixed_url: str | None = None, conversations: int | None = None,
    seconds: float | None = None,
) -> RunResult:
    from bot.channels.rasa_client import RasaClient

    n = conversations or args.conversations
    async with RasaClient(settings, base_url=fixed_url, token=token, timeout_s=args.timeout) as client:
        async def send(sender: str, script: Script, turn: Turn) -> list[dict[str, Any]]:
            return await client.send_message(sender, turn.text,
                                             {"channel": "rest", "language_hint": script.language})

        return await drive(channel, send, scripts, conversations=n, seconds=seconds or args.seconds,
                           think_ms=args.think_ms, timeout_s=args.timeout + 5, sender_prefix=sender_prefix)


# --------------------------------------------------------------------------------------------------------------
# Our stack
# --------------------------------------------------------------------------------------------------------------


def bench_settings(database_url: str, instances: int, rasa_port: int, action_port: int, timeout: float) -> Any:
    from bot.settings import Settings

    return Settings(
        database_url=database_url,
        tracker_database_url=None,
        redis_url=REDIS_URL,
        rasa_host="127.0.0.1",
        rasa_port=rasa_port,
        rasa_instances=instances,
        rasa_token=BENCH_TOKEN,
        action_host="127.0.0.1",
        action_port=action_port,
        rasa_request_timeout_s=timeout,
        secret_key=BENCH_SECRET,
    )


def base_env(settings: Any) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": settings.database_url,
            "REDIS_URL": settings.redis_url or "",
            "RASA_HOST": settings.rasa_host,
            "RASA_PORT": str(settings.rasa_port),
            "RASA_INSTANCES": str(settings.rasa_instances),
            "RASA_TOKEN": BENCH_TOKEN,
            "ACTION_PORT": str(settings.action_port),
            "SECRET_KEY": BENCH_SECRET,
            "LOG_LEVEL": "WARNING",
        }
    )
    env.pop("TRACKER_DATABASE_URL", None)
    return env


def resolved_endpoints(env: dict[str, str], target: Path) -> Path:
    """endpoints.yml with its ``${VAR}`` references filled in from ``env``.

    Rasa 3.6 expands ``${VAR}`` only in plain (unquoted) YAML scalars, so a quoted reference would reach
    the tracker store literally; writing the resolved file makes the benchmark independent of that.
    """
    source = (ROOT / "endpoints.yml").read_text(encoding="utf-8")
    target.write_text(re.sub(r"\$\{(\w+)\}", lambda m: env.get(m.group(1), m.group(0)), source), encoding="utf-8")
    return target


async def start_our_stack(processes: Processes, settings: Any, model: Path) -> None:
    from bot.engine import app_python, engine_environment, rasa_executable

    env = base_env(settings)
    processes.spawn(
        "actions",
        [str(app_python()), "-m", "rasa_sdk", "--actions", "actions", "--port", str(settings.action_port)],
        {**env, "SANIC_HOST": "127.0.0.1", "ACTION_SERVER_SANIC_WORKERS": "1"},
    )
    engine_env = engine_environment(settings, env)
    token = settings.rasa_token.get_secret_value()
    endpoints = resolved_endpoints(engine_env, processes.log_dir / "endpoints.yml")

    def spawn_rasa(i: int) -> str:
        port = settings.rasa_port + i
        processes.spawn(
            f"rasa-{i}",
            [
                str(rasa_executable()), "run", "--enable-api", "--auth-token", token,
                "--interface", "127.0.0.1", "--port", str(port), "--model", str(model),
                "--endpoints", str(endpoints), "--credentials", "credentials.yml",
            ],
            engine_env,
        )
        return f"http://127.0.0.1:{port}/status?token={token}"

    # The first server creates the tracker store's tables; the others start once they exist, so that
    # several processes never race on CREATE TABLE.
    first = spawn_rasa(0)
    await wait_http_ok([f"http://127.0.0.1:{settings.action_port}/health", first], processes, 600)
    rest = [spawn_rasa(i) for i in range(1, settings.rasa_instances)]
    await wait_http_ok(rest, processes, 600)


async def warm_up(settings: Any, count: int = 2) -> None:
    """One short conversation per Rasa process so that lazy loading is not billed to the first customers."""
    from bot.channels.rasa_client import RasaClient

    for url in settings.rasa_urls:
        async with RasaClient(settings, base_url=url, timeout_s=120) as pinned:
            for i in range(count):
                await pinned.send_message(f"warmup-{uuid.uuid4().hex[:8]}-{i}", "merhaba", {"channel": "rest"})


# --------------------------------------------------------------------------------------------------------------
# Telegram
# --------------------------------------------------------------------------------------------------------------


async def run_telegram(
    settings: Any, processes: Processes, args: argparse.Namespace, run_id: str,
) -> tuple[RunResult, dict[int, list[tuple[float, int]]], Any]:
    """Drive conversations through the real connector; returns samples and per chat (enqueue time, index)."""
    from bot.engine import app_python
    from tests.fakes.telegram_api import DEFAULT_TOKEN, FakeTelegramAPI

    api = FakeTelegramAPI()
    await api.start()
    env = base_env(settings)
    env.update(
        {
            "TELEGRAM_TOKEN": DEFAULT_TOKEN,
            "TELEGRAM_BASE_URL": api.base_url,
            "TELEGRAM_BASE_FILE_URL": api.base_file_url,
            "TELEGRAM_MODE": "polling",
        }
    )
    n = args.telegram_conversations
    result = RunResult(channel="telegram", conversations=n, window_s=args.seconds)
    enqueued: dict[int, list[tuple[float, int]]] = defaultdict(list)
    first_chat = 7_100_000_000 + (int(time.time()) % 100_000) * 1000  # new chats each run
    processes.spawn("telegram", [str(app_python()), "-m", "bot.channels.telegram", "--mode", "polling"], env)
    try:
        deadline_up = time.monotonic() + 120
        while not api.calls_of("getUpdates"):
            processes.check_alive()
            if time.monotonic() > deadline_up:
                raise RuntimeError("Telegram connector did not poll within 120 s:\n" + processes.tail("telegram"))
            await asyncio.sleep(0.2)
        started = time.monotonic()
        deadline = started + args.seconds
        next_chat = [first_chat]

        async def conversation(index: int) -> None:
            script = OUR_SCRIPTS[index % len(OUR_SCRIPTS)]
            await asyncio.sleep((index % 100) / 100)
            while time.monotonic() < deadline:
                chat_id = next_chat[0]
                next_chat[0] += 1
                user = api.user(chat_id, first_name="Bench", language_code=script.language)
                for number, turn in enumerate(script.turns):
                    if time.monotonic() >= deadline:
                        return
                    before = len(api.messages.get(chat_id, []))
                    t0 = time.monotonic()
                    api.enqueue_text(user, turn.text)
                    enqueued[chat_id].append((t0, number))
                    sender = f"tg-{chat_id}"
                    # Pace on the first reply part; exact latencies are computed afterwards from the tracker.
                    while len(api.messages.get(chat_id, [])) <= before:
                        if time.monotonic() - t0 > args.timeout + 5:
                            break
                        await asyncio.sleep(0.02)
                    got = len(api.messages.get(chat_id, [])) > before
                    parts = len(api.messages.get(chat_id, [])) - before
                    result.samples.append(Sample(sender, script.name, number, t0, None, "ok" if got else "timeout",
                                                 parts))
                    if not got:
                        return  # the chat is stuck behind a lost answer; do not pile more on it
                    if args.think_ms:
                        await asyncio.sleep(args.think_ms / 1000)

        await asyncio.gather(*(conversation(i) for i in range(n)))
        result.elapsed_s = time.monotonic() - started
        # Let the connector deliver the remaining parts of the last answers.
        quiet_since, last_count = time.monotonic(), -1
        drain_deadline = time.monotonic() + 60
        while time.monotonic() < drain_deadline:
            count = len(api.calls_of("sendMessage")) + len(api.calls_of("sendPhoto"))
            if count != last_count:
                last_count, quiet_since = count, time.monotonic()
            elif time.monotonic() - quiet_since > 5:
                break
            await asyncio.sleep(0.25)
    finally:
        processes.stop("telegram")
        await api.stop()
    return result, enqueued, api


def telegram_latencies(
    result: RunResult, enqueued: dict[int, list[tuple[float, int]]], api: Any, bots_after: dict[str, list[int]],
) -> dict[str, Any]:
    """Latency from enqueue to the first and to the last part of each answer, matched through the tracker."""
    first: list[float] = []
    complete: list[float] = []
    unmatched = 0
    parts_sent = parts_expected = 0
    for chat_id, stamps in enqueued.items():
        sent = api.messages.get(chat_id, [])
        counts = bots_after.get(f"tg-{chat_id}", [])
        parts_sent += len(sent)
        parts_expected += sum(counts)
        if len(counts) != len(stamps) or sum(counts) != len(sent):
            unmatched += 1
            continue
        position = 0
        for (t0, _), parts in zip(stamps, counts, strict=True):
            if parts:
                first.append(sent[position].at - t0)
                complete.append(sent[position + parts - 1].at - t0)
            position += parts
    first.sort()
    complete.sort()
    return {
        "latency_first_part_ms": {p: _percentile_ms(first, n) for p, n in (("p50", 50), ("p95", 95), ("p99", 99))},
        "latency_complete_ms": {p: _percentile_ms(complete, n) for p, n in (("p50", 50), ("p95", 95), ("p99", 99))},
        "answers_matched": len(complete),
        "chats_unmatched": unmatched,
        "reply_parts_sent": parts_sent,
        "reply_parts_in_tracker": parts_expected,
        "_complete": complete,
    }


# --------------------------------------------------------------------------------------------------------------
# Baseline: bare `rasa init`
# --------------------------------------------------------------------------------------------------------------


def baseline_model(log: Callable[[str], None]) -> Path:
    """The `rasa init --no-prompt` project and model, created once per machine and cached."""
    from bot.engine import rasa_executable

    models = sorted((BASELINE_DIR / "models").glob("*.tar.gz")) if BASELINE_DIR.exists() else []
    if models:
        return models[-1]
    log(f"creating the `rasa init` baseline in {BASELINE_DIR} (trains once, a few minutes) ...")
    staging = Path(tempfile.mkdtemp(prefix="rasa-init-"))
    try:
        env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
        subprocess.run([str(rasa_executable()), "init", "--no-prompt", "--init-dir", str(staging)], cwd=staging,
                       env=env, check=True, timeout=1800, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        BASELINE_DIR.parent.mkdir(parents=True, exist_ok=True)
        if BASELINE_DIR.exists():
            shutil.rmtree(BASELINE_DIR)
        shutil.copytree(staging, BASELINE_DIR)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return sorted((BASELINE_DIR / "models").glob("*.tar.gz"))[-1]


async def start_baseline(processes: Processes, model: Path) -> str:
    from bot.engine import rasa_executable

    port = free_port()
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("PYTHONPATH", None)
    # In the project directory: its default endpoints.yml (in-memory stores) and credentials.yml (rest).
    processes.spawn(
        "baseline",
        [str(rasa_executable()), "run", "--enable-api", "--interface", "127.0.0.1", "--port", str(port),
         "--model", str(model)],
        env,
        cwd=BASELINE_DIR,
    )
    url = f"http://127.0.0.1:{port}"
    await wait_http_ok([f"{url}/status"], processes, 600)
    return url


async def baseline_stored_counts(url: str, senders: list[str]) -> Counter[str]:
    """``user`` events per sender from the baseline's in-memory tracker store (its HTTP API)."""
    import httpx

    counts: Counter[str] = Counter()
    gate = asyncio.Semaphore(16)
    async with httpx.AsyncClient(timeout=60) as client:
        async def one(sender: str) -> None:
            async with gate:
                response = await client.get(f"{url}/conversations/{sender}/tracker")
                response.raise_for_status()
                counts[sender] = sum(1 for e in response.json().get("events", []) if e.get("event") == "user")

        await asyncio.gather(*(one(s) for s in senders))
    return counts


# --------------------------------------------------------------------------------------------------------------
# Machine and report
# --------------------------------------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    cpu_model = platform.processor() or ""
    mem_gib = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gib = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gib": mem_gib,
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "os": platform.platform(),
        "python": platform.python_version(),
        "rasa": "3.6.21",
    }


def _row(label: str, s: dict[str, Any], latency: dict[str, Any] | None = None) -> str:
    lat = latency or s["latency_ms"]
    stored = s.get("stored_check", {})
    once = "yes" if stored.get("exactly_once") else ("n/a" if not stored else "NO")
    return (f"| {label} | {s['conversations']} | {s['messages_answered']}/{s['messages_sent']} | "
            f"{s['messages_per_s']} | {lat.get('p50')} | {lat.get('p95')} | {lat.get('p99')} | "
            f"{s['errors']} / {s['timeouts']} | {once} |")


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        "# Chat load benchmark",
        "",
        f"Run {report['started_at']} on {m['nproc']} cores ({m['cpu_model']}), {m['memory_gib']} GiB RAM, "
        f"load average at start {m['load_average']}. Window {report['options']['seconds']} s per channel, "
        f"closed loop, think time {report['options']['think_ms']} ms. Everything on 127.0.0.1.",
        "",
        "| channel | conversations | answered/sent | msg/s | p50 ms | p95 ms | p99 ms | errors / timeouts "
        "| stored exactly once |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    results = report["results"]
    if "rest" in results:
        r = results["rest"]
        lines.append(_row(f"Memnun REST ({report['options']['instances']} Rasa)", r))
    if "telegram" in results:
        t = results["telegram"]
        lines.append(_row("Memnun Telegram (complete answer)", t, t.get("latency_complete_ms")))
    if "baseline" in results:
        lines.append(_row("Baseline `rasa init` REST (1 Rasa)", results["baseline"]))
    for key, item in report.get("instances_sweep", {}).items():
        lines.append(_row(f"sweep: Memnun REST, {key} Rasa", item))
    lines += ["", "## Details", ""]
    for name, r in results.items():
        lines.append(f"- **{name}**: outcomes {r['outcomes']}, content checks {r['content_checks']}, "
                     f"empty replies {r['empty_replies']}, CPU {r.get('cpu', {})}")
        if r.get("stored_check"):
            sc = r["stored_check"]
            lines.append(f"  - stored check: {sc['user_events_stored']} user events for {sc['messages_sent']} "
                         f"messages from {sc['senders']} senders; mismatched senders {sc['senders_mismatched']}")
        if name == "telegram":
            lines.append(f"  - first part p50/p95/p99 ms {r.get('latency_first_part_ms')}; complete "
                         f"{r.get('latency_complete_ms')}; reply parts sent {r.get('reply_parts_sent')} vs bot "
                         f"events in tracker {r.get('reply_parts_in_tracker')}")
        for note in r.get("notes", []):
            lines.append(f"  - {note}")
    lines += ["", "## What bounds the result", "", report["bounds"], ""]
    return "\n".join(lines)


def bounds_paragraph(report: dict[str, Any]) -> str:
    m = report["machine"]
    rest = report["results"].get("rest", {})
    base = report["results"].get("baseline", {})
    cpu = rest.get("cpu", {})
    text = (
        f"This machine has {m['nproc']} cores shared with other work (load average {m['load_average']} at the "
        "start), and everything — load generator, K Rasa servers, action server, PostgreSQL, Redis, the "
        "Telegram connector — runs on them, so the numbers are a floor, not a capacity plan. "
    )
    if cpu:
        text += (f"During the REST window the machine was {cpu.get('machine_busy_pct')} % busy; cores used: "
                 f"{cpu.get('cores_used_by')}. ")
    text += (
        "Each message is CPU-bound inside Rasa: the whole tracker is loaded from and saved to PostgreSQL per "
        "message (SQL tracker store, Redis lock), the NLU pipeline (language detection, spaCy tokenisation, "
        "sparse featurizers, DIET, ResponseSelector) and the policy ensemble (Memoization, Rule, TED) run "
        "per turn, and a custom action adds an HTTP round trip to the action server and a database query. "
        "One Rasa process handles one message's prediction at a time on its event loop, so more instances "
        "than cores only add contention; with closed-loop load, latency grows with conversations / throughput "
        "(Little's law) once the CPU is saturated. "
    )
    if base and rest and base.get("messages_per_s"):
        ratio = rest["messages_per_s"] / base["messages_per_s"] if base["messages_per_s"] else 0
        text += (f"The bare `rasa init` assistant (tiny pipeline, in-memory tracker, no actions) answered "
                 f"{base['messages_per_s']} msg/s in the same run; ours reached {ratio:.2f}x of that. ")
    tel = report["results"].get("telegram")
    if tel:
        text += ("Telegram adds the connector's journal (every update written to PostgreSQL before it is "
                 "acknowledged), long polling and Telegram's per-chat rate limit (3 messages per 3 s), which "
                 "dominates the latency of multi-part answers in a fast closed loop.")
    return text


# --------------------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------------------


def _log(message: str) -> None:
    print(f"[bench chat] {message}", flush=True)


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    from bot.engine import train_model

    run_id = datetime.now(UTC).strftime("%Y%m%d%H%M%S") + uuid.uuid4().hex[:4]
    report: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "options": {k: v for k, v in vars(args).items() if k != "func"},
        "results": {},
    }
    log_dir = Path(tempfile.mkdtemp(prefix="memnun-bench-chat-"))
    report["log_dir"] = str(log_dir)
    processes = Processes(log_dir)
    db_name = f"memnun_bench_{run_id}"
    database_created = False
    try:
        if not args.skip_baseline:
            model = await asyncio.to_thread(baseline_model, _log)
            url = await start_baseline(processes, model)
            _log(f"baseline up ({model.name}); warming up")
            async with __import__("httpx").AsyncClient(timeout=120) as client:
                await client.post(f"{url}/webhooks/rest/webhook", json={"sender": "warmup", "message": "hello"})
            cpu = CpuSampler({"rasa": processes.pids("baseline"), "load generator": [os.getpid()]})
            cpu.start()
            result = await run_rest("baseline", None, BASELINE_SCRIPTS, args, f"base-{run_id}", token="",
                                    fixed_url=url)
            summary = result.summary()
            summary["cpu"] = cpu.stop()
            stored = await baseline_stored_counts(url, list(result.sent_per_sender()))
            summary["stored_check"] = stored_once_check(result.sent_per_sender(), stored)
            report["results"]["baseline"] = summary
            _log(f"baseline: {summary['messages_per_s']} msg/s, p95 {summary['latency_ms']['p95']} ms")
            processes.stop("baseline")

        from bot.settings import get_settings

        if args.model:
            model_path = Path(args.model).resolve()
        else:
            _log("getting the model (trains on first use for the current data, cached by fingerprint) ...")
            model_path = await asyncio.to_thread(train_model, get_settings())
        report["model"] = model_path.name
        database_url = create_database(db_name)
        database_created = True
        await asyncio.to_thread(prepare_data, database_url)
        _log(f"database {db_name} migrated and seeded; model {model_path.name}")

        sweep = [int(v) for v in args.instances_sweep.split(",") if v.strip()] if args.instances_sweep else []
        plan = [(k, False) for k in sweep if k != args.instances] + [(args.instances, True)]
        for k, is_main in plan:
            settings = bench_settings(database_url, k, free_port_range(k), free_port(), args.timeout)
            try:
                _log(f"starting action server + {k} Rasa server(s)")
                await start_our_stack(processes, settings, model_path)
                await warm_up(settings)
                pids = {"rasa": processes.pids("rasa-"), "actions": processes.pids("actions"),
                        "load generator": [os.getpid()]}
                cpu = CpuSampler(pids)
                cpu.start()
                seconds = args.seconds if is_main else args.sweep_seconds
                prefix = f"bench-{run_id}-k{k}" + ("" if is_main else "s")
                result = await run_rest("rest", settings, OUR_SCRIPTS, args, prefix, seconds=seconds)
                summary = result.summary()
                summary["cpu"] = cpu.stop()
                summary["instances"] = k
                users, _ = await asyncio.to_thread(user_events_per_sender, database_url, prefix + "-")
                summary["stored_check"] = stored_once_check(result.sent_per_sender(), users)
                _log(f"REST k={k}: {summary['messages_per_s']} msg/s, p50 {summary['latency_ms']['p50']} ms, "
                     f"p95 {summary['latency_ms']['p95']} ms, exactly once "
                     f"{summary['stored_check']['exactly_once']}")
                if is_main:
                    report["results"]["rest"] = summary
                    if not args.skip_telegram:
                        await _telegram_phase(report, settings, processes, args, run_id, database_url)
                else:
                    report.setdefault("instances_sweep", {})[str(k)] = summary
            finally:
                for name in [n for n in list(processes.procs) if n.startswith(("rasa-", "actions"))]:
                    processes.stop(name)
    finally:
        processes.stop_all()
        if database_created and not args.keep_database:
            await asyncio.to_thread(drop_database, db_name)
    report["database"] = {"name": db_name, "dropped": database_created and not args.keep_database}
    report["bounds"] = bounds_paragraph(report)
    return report


async def _telegram_phase(
    report: dict[str, Any], settings: Any, processes: Processes, args: argparse.Namespace, run_id: str,
    database_url: str,
) -> None:
    _log(f"Telegram: {args.telegram_conversations} chats through the connector")
    cpu = CpuSampler({"rasa": processes.pids("rasa-"), "actions": processes.pids("actions"),
                      "load generator + fake Bot API": [os.getpid()]})
    cpu.start()
    result, enqueued, api = await run_telegram(settings, processes, args, run_id)
    summary = result.summary()
    summary["cpu"] = cpu.stop()
    chats = {f"tg-{c}" for c in enqueued}
    users_all, bots_after = await asyncio.to_thread(user_events_per_sender, database_url, "tg-")
    users = Counter({s: n for s, n in users_all.items() if s in chats})
    bots = {s: v for s, v in bots_after.items() if s in chats}
    summary["stored_check"] = stored_once_check(result.sent_per_sender(), users)
    lat = telegram_latencies(result, enqueued, api, bots)
    complete = lat.pop("_complete")
    summary.update(lat)
    summary["latency_ms"] = dict(lat["latency_complete_ms"], max=round(complete[-1] * 1000) if complete else None)
    summary["notes"].append(
        "messages_per_s counts customer messages whose answer arrived within the window; latency is from the "
        "update being enqueued at the fake Bot API to the recorded sendMessage of the answer's last part"
    )
    report["results"]["telegram"] = summary
    _log(f"Telegram: {summary['messages_per_s']} msg/s, complete p50 {lat['latency_complete_ms']['p50']} ms, "
         f"p95 {lat['latency_complete_ms']['p95']} ms, exactly once {summary['stored_check']['exactly_once']}")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="memnun bench chat", description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=200, help="simultaneous REST conversations")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured window per channel")
    parser.add_argument("--instances", type=int, default=2, help="Rasa server processes for our stack")
    parser.add_argument("--instances-sweep", default="",
                        help="also measure REST with these instance counts first, e.g. 1,2,3")
    parser.add_argument("--sweep-seconds", type=float, default=20.0)
    parser.add_argument("--telegram-conversations", type=int, default=50)
    parser.add_argument("--think-ms", type=int, default=0, help="pause between a reply and the next message")
    parser.add_argument("--timeout", type=float, default=30.0, help="per-message timeout (s)")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--skip-telegram", action="store_true")
    parser.add_argument("--model", default=None, help="serve this model instead of train_model()'s")
    parser.add_argument("--keep-database", action="store_true", help="do not drop memnun_bench_<ts> (debugging)")
    parser.add_argument("--out", default=str(ROOT / "reports" / "bench"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    import logging

    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # One log line per HTTP request would cost the load generator CPU and bury the results.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    report = asyncio.run(_run(args))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "chat.json").write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n")
    (out / "chat.md").write_text(markdown(report), encoding="utf-8")
    _log(f"wrote {out / 'chat.json'} and {out / 'chat.md'}")
    print(markdown(report))
    ok = all(r.get("stored_check", {}).get("exactly_once", True) for r in report["results"].values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
