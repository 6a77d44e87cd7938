"""`./memnun run`: prepare the database and model, then start and supervise every process.

Processes (each restarted with backoff if it dies, all stopped in reverse order on Ctrl-C):
  actions    rasa-sdk action server (app venv)            127.0.0.1:5055
  rasa       Rasa server with REST + socket.io channels   127.0.0.1:5005 (HTTP API behind a token)
  web        our FastAPI app: web chat page and console   127.0.0.1:8000
  scheduler  check-ins, campaigns and the outbox sender   (no port)
  telegram   python-telegram-bot connector                (only when TELEGRAM_TOKEN is set)
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bot.engine import app_python, engine_environment, latest_model, rasa_executable, train_model
from bot.settings import PROJECT_ROOT, VAR_DIR, Settings, get_settings

SECRETS_FILE = VAR_DIR / "secrets.env"
LOG_DIR = VAR_DIR / "log"


def ensure_local_secrets() -> None:
    """Give this installation its own random Rasa token and session key unless configured.

    Why: shipping a default token would leave Rasa's HTTP API open to anyone who read our README.
    The values are written once to var/secrets.env (not committed) and exported to every child process.
    """
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    stored: dict[str, str] = {}
    if SECRETS_FILE.exists():
        for line in SECRETS_FILE.read_text().splitlines():
            key, _, value = line.partition("=")
            if key and value:
                stored[key.strip()] = value.strip()
    changed = False
    for key in ("RASA_TOKEN", "SECRET_KEY"):
        if key not in stored:
            stored[key] = secrets.token_urlsafe(32)
            changed = True
    if changed:
        SECRETS_FILE.write_text("".join(f"{k}={v}\n" for k, v in stored.items()))
        SECRETS_FILE.chmod(0o600)
    for key, value in stored.items():
        os.environ.setdefault(key, value)
    get_settings.cache_clear()


@dataclass
class ManagedProcess:
    name: str
    command: list[str]
    env: dict[str, str]
    health_url: str | None = None
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_restart_at: float = 0.0
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = LOG_DIR / f"{self.name}.log"

    def start(self) -> None:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child process
        self.process = subprocess.Popen(
            self.command,
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us; we stop children in order
        )
        log.close()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        if not self.alive():
            return
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def build_processes(settings: Settings, model: Path, with_telegram: bool) -> list[ManagedProcess]:
    base_env = dict(os.environ)
    base_env["PYTHONPATH"] = str(PROJECT_ROOT)
    app = str(app_python())
    actions_env = {**base_env, "SANIC_HOST": settings.action_host}
    processes = [
        ManagedProcess(
            "actions",
            [app, "-m", "rasa_sdk", "--actions", "actions", "--port", str(settings.action_port)],
            actions_env,
            health_url=f"http://{settings.action_host}:{settings.action_port}/health",
        ),
        *[
            ManagedProcess(
                "rasa" if index == 0 else f"rasa-{index}",
                [
                    str(rasa_executable()),
                    "run",
                    "--enable-api",
                    "--auth-token",
                    settings.rasa_token.get_secret_value(),
                    "--interface",
                    settings.rasa_host,
                    "--port",
                    str(settings.rasa_port + index),
                    "--cors",
                    "*",
                    "--model",
                    str(model),
                    "--endpoints",
                    "endpoints.yml",
                    "--credentials",
                    "credentials.yml",
                ],
                engine_environment(settings, base_env),
                health_url=f"{url}/",
            )
            for index, url in enumerate(settings.rasa_urls)
        ],
        ManagedProcess(
            "web",
            [
                app,
                "-m",
                "uvicorn",
                "bot.web:app",
                "--host",
                settings.web_host,
                "--port",
                str(settings.web_port),
                "--no-access-log",
                "--timeout-graceful-shutdown",
                "5",
            ],
            base_env,
            health_url=f"http://{settings.web_host}:{settings.web_port}/healthz",
        ),
    ]
    if (PROJECT_ROOT / "bot" / "scheduler" / "__main__.py").exists():
        processes.append(ManagedProcess("scheduler", [app, "-m", "bot.scheduler"], base_env))
    if with_telegram:
        processes.append(ManagedProcess("telegram", [app, "-m", "bot.channels.telegram"], base_env))
    return processes


def prepare_database(seed: bool) -> None:
    """Apply migrations and, on first start, create the demo data."""
    upgrade_to_head(get_settings().database_url)
    if seed:
        from bot.services.seed import seed_demo_data

        seed_demo_data()


def upgrade_to_head(database_url: str) -> None:
    """`alembic upgrade head` for our data (idempotent)."""
    from alembic import command
    from alembic.config import Config

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "bot" / "db" / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    command.upgrade(config, "head")


def _wait_healthy(processes: list[ManagedProcess], timeout_s: float = 240.0) -> None:
    deadline = time.monotonic() + timeout_s
    pending = [p for p in processes if p.health_url]
    with httpx.Client(timeout=2.0) as client:
        while pending and time.monotonic() < deadline:
            for proc in list(pending):
                if not proc.alive():
                    raise RuntimeError(f"{proc.name} exited during start-up; see {proc.log_path}")
                try:
                    if client.get(proc.health_url or "").status_code < 500:
                        print(f"[memnun] {proc.name} is up", flush=True)
                        pending.remove(proc)
                except httpx.HTTPError:
                    pass
            time.sleep(1.0)
    if pending:
        raise RuntimeError("not healthy in time: " + ", ".join(p.name for p in pending))


def run_everything(with_telegram: bool | None = None, train: bool = True, seed: bool = True) -> int:
    ensure_local_secrets()
    settings = get_settings()
    if with_telegram is None:
        with_telegram = settings.telegram_token is not None
    print("[memnun] preparing the database ...", flush=True)
    prepare_database(seed)
    model = train_model(settings) if train else latest_model()
    if model is None:
        print("[memnun] no trained model in models/: run without --no-train", file=sys.stderr)
        return 1
    processes = build_processes(settings, model, with_telegram)
    stopping = False

    def _stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    for proc in processes:
        proc.start()
    try:
        print("[memnun] starting (the Rasa server needs about a minute to load the model) ...", flush=True)
        _wait_healthy(processes)
        web = f"http://{settings.web_host}:{settings.web_port}"
        print(
            "\n[memnun] Memnun is running:\n"
            f"  Web chat        {web}/chat\n"
            f"  Console         {web}/console   (create a user: ./memnun create-admin)\n"
            f"  Rasa REST       {settings.rasa_url}/webhooks/rest/webhook\n"
            f"  Action server   http://{settings.action_host}:{settings.action_port}/health\n"
            f"  Telegram        {'connector running' if with_telegram else 'off (set TELEGRAM_TOKEN)'}\n"
            f"  Logs            {LOG_DIR}\n"
            "  Demo customer   Ayşe Yılmaz, phone 0532 123 45 67, customer number MN100001\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        while not stopping:
            for proc in processes:
                if proc.alive() or stopping:
                    continue
                now = time.monotonic()
                if proc.next_restart_at == 0.0:
                    delay = min(60.0, 2.0 ** min(proc.restarts, 6))
                    proc.next_restart_at = now + delay
                    print(f"[memnun] {proc.name} stopped; restarting in {delay:.0f}s (log: {proc.log_path})")
                elif now >= proc.next_restart_at:
                    proc.restarts += 1
                    proc.next_restart_at = 0.0
                    proc.start()
            time.sleep(0.5)
    except RuntimeError as exc:
        print(f"[memnun] {exc}", file=sys.stderr)
        return 1
    finally:
        print("[memnun] stopping ...", flush=True)
        for proc in reversed(processes):
            proc.stop()
    return 0
