"""Everything our application needs to drive the Rasa engine, which lives in its own Python 3.10 venv.

The engine (rasa==3.6.21) cannot share an environment with our application (SQLAlchemy 2, pydantic 2,
APScheduler 3.11), so we never `import rasa` here: we run the engine's `rasa` executable as a
subprocess with the environment variables that `endpoints.yml` expects.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.settings import PROJECT_ROOT, Settings

MODEL_INPUTS = ("config.yml", "domain", "domain.yml", "data", "bot/nlu")
MODELS_DIR = PROJECT_ROOT / "models"


def engine_python() -> Path:
    """The engine venv's interpreter (set by ./memnun, or the repo's .venv/engine link)."""
    configured = os.environ.get("MEMNUN_ENGINE_PYTHON")
    if configured:
        return Path(configured)
    return PROJECT_ROOT / ".venv" / "engine" / "bin" / "python"


def rasa_executable() -> Path:
    return engine_python().parent / "rasa"


def app_python() -> Path:
    configured = os.environ.get("MEMNUN_APP_PYTHON")
    if configured:
        return Path(configured)
    return PROJECT_ROOT / ".venv" / "app" / "bin" / "python"


def _tracker_url_for_engine(url: str) -> tuple[str, str, str]:
    """(dialect, url, db) for Rasa's SQL tracker store; the engine ships psycopg2, not psycopg 3."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database or str(PROJECT_ROOT / "var" / "tracker.db")
        return "sqlite", f"sqlite:///{database}", database
    engine_url = parsed.set(drivername="postgresql+psycopg2")
    return "postgresql", engine_url.render_as_string(hide_password=False), parsed.database or "postgres"


def engine_environment(settings: Settings, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for `rasa` subprocesses: the variables endpoints.yml substitutes, and PYTHONPATH."""
    env = dict(base if base is not None else os.environ)
    dialect, tracker_url, tracker_db = _tracker_url_for_engine(settings.effective_tracker_url)
    env.update(
        {
            "MEMNUN_ACTION_URL": settings.action_url,
            "MEMNUN_TRACKER_DIALECT": dialect,
            "MEMNUN_TRACKER_URL": tracker_url,
            "MEMNUN_TRACKER_DB": tracker_db,
            "PYTHONPATH": str(PROJECT_ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""),
            # TensorFlow's start-up chatter says nothing useful to an operator.
            "TF_CPP_MIN_LOG_LEVEL": env.get("TF_CPP_MIN_LOG_LEVEL", "2"),
            "RASA_TELEMETRY_ENABLED": "false",
            "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        }
    )
    if settings.redis_url:
        redis = make_url(settings.redis_url)
        env.update(
            {
                "MEMNUN_LOCK_STORE_TYPE": "redis",
                "MEMNUN_REDIS_HOST": redis.host or "127.0.0.1",
                "MEMNUN_REDIS_PORT": str(redis.port or 6379),
                "MEMNUN_REDIS_DB": (redis.database or "0"),
            }
        )
    else:
        env.update(
            {
                "MEMNUN_LOCK_STORE_TYPE": "in_memory",
                "MEMNUN_REDIS_HOST": "",
                "MEMNUN_REDIS_PORT": "0",
                "MEMNUN_REDIS_DB": "0",
            }
        )
    return env


def _iter_input_files(root: Path) -> Iterable[Path]:
    for name in MODEL_INPUTS:
        path = root / name
        if path.is_file():
            yield path
        elif path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and child.suffix in {".yml", ".yaml", ".py", ".json", ".txt"}:
                    yield child


def data_fingerprint(root: Path = PROJECT_ROOT, extra: str = "") -> str:
    """A hash of everything that changes the trained model (config, domain, data, our NLU components)."""
    digest = hashlib.sha256()
    lock = root / "requirements" / "engine.lock"
    if lock.exists():
        digest.update(lock.read_bytes())
    for path in _iter_input_files(root):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    digest.update(extra.encode())
    return digest.hexdigest()[:16]


def model_cache_dir() -> Path:
    path = Path(os.environ.get("MEMNUN_MODEL_CACHE", Path.home() / ".cache" / "memnun" / "models"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def domain_argument(root: Path = PROJECT_ROOT) -> str:
    return "domain" if (root / "domain").is_dir() and any((root / "domain").glob("*.yml")) else "domain.yml"


def train_model(
    settings: Settings,
    *,
    force: bool = False,
    config: str = "config.yml",
    name_prefix: str = "memnun",
    log: bool = True,
) -> Path:
    """Train unless a model for the current data fingerprint exists; returns the model path.

    Models are cached outside the checkout (by fingerprint) so a fresh clone on the same machine — CI,
    for one — does not train again, and copied into `models/` where Rasa expects them.
    """
    fingerprint = data_fingerprint(extra=config)
    file_name = f"{name_prefix}-{fingerprint}.tar.gz"
    MODELS_DIR.mkdir(exist_ok=True)
    target = MODELS_DIR / file_name
    cached = model_cache_dir() / file_name
    if not force and target.exists():
        return target
    if not force and cached.exists():
        shutil.copy2(cached, target)
        return target
    if log:
        print(f"[memnun] training the assistant (data fingerprint {fingerprint}) ...", flush=True)
    command = [
        str(rasa_executable()),
        "train",
        "--config",
        config,
        "--domain",
        domain_argument(),
        "--data",
        "data",
        "--out",
        str(MODELS_DIR),
        "--fixed-model-name",
        file_name.removesuffix(".tar.gz"),
    ]
    subprocess.run(command, cwd=PROJECT_ROOT, env=engine_environment(settings), check=True)
    shutil.copy2(target, cached)
    return target


def latest_model() -> Path | None:
    models = sorted(MODELS_DIR.glob("memnun-*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return models[-1] if models else None
