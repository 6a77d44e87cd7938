"""Start the real Rasa server and the real action server for end-to-end tests.

The engine runs in its own Python 3.10 venv, so tests drive it as subprocesses, exactly as
`./memnun run` does, on free ports of 127.0.0.1, and always stop it (process groups are killed).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bot.engine import app_python, engine_environment, rasa_executable
from bot.settings import PROJECT_ROOT, Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RasaStack:
    """A running action server + Rasa server pair."""

    settings: Settings
    model: Path
    log_dir: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def rasa_url(self) -> str:
        return self.settings.rasa_url

    @property
    def token(self) -> str:
        return self.settings.rasa_token.get_secret_value()

    def start(self, timeout_s: float = 300.0) -> RasaStack:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(PROJECT_ROOT)
        env["DATABASE_URL"] = self.settings.database_url
        env["RASA_TOKEN"] = self.token
        env["SECRET_KEY"] = self.settings.secret_key.get_secret_value()
        if self.settings.tracker_database_url:
            env["TRACKER_DATABASE_URL"] = self.settings.tracker_database_url
        if self.settings.redis_url:
            env["REDIS_URL"] = self.settings.redis_url
        actions_env = {**env, "SANIC_HOST": "127.0.0.1", "ACTION_SERVER_SANIC_WORKERS": "1"}
        self._spawn(
            "actions",
            [str(app_python()), "-m", "rasa_sdk", "--actions", "actions", "--port", str(self.settings.action_port)],
            actions_env,
        )
        self._spawn(
            "rasa",
            [
                str(rasa_executable()), "run", "--enable-api", "--auth-token", self.token,
                "--interface", "127.0.0.1", "--port", str(self.settings.rasa_port), "--cors", "*",
                "--model", str(self.model), "--endpoints", "endpoints.yml", "--credentials", "credentials.yml",
            ],
            engine_environment(self.settings, env),
        )
        deadline = time.monotonic() + timeout_s
        urls = [f"http://127.0.0.1:{self.settings.action_port}/health", f"{self.rasa_url}/status?token={self.token}"]
        with httpx.Client(timeout=3.0) as client:
            while urls:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"stack not up in {timeout_s}s; logs in {self.log_dir}:\n" + self.tail_logs())
                for proc in self.processes:
                    if proc.poll() is not None:
                        self.stop()
                        raise RuntimeError("a stack process exited during start-up:\n" + self.tail_logs())
                try:
                    if client.get(urls[0]).status_code == 200:
                        urls.pop(0)
                        continue
                except httpx.HTTPError:
                    pass
                time.sleep(1.0)
        return self

    def _spawn(self, name: str, command: list[str], env: dict[str, str]) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_dir / f"{name}.log", "ab") as log:
            self.processes.append(
                subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
            )

    def tail_logs(self, lines: int = 40) -> str:
        out = []
        for path in sorted(self.log_dir.glob("*.log")):
            content = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {path.name}\n" + "\n".join(content))
        return "\n".join(out)

    def stop(self) -> None:
        for proc in reversed(self.processes):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in reversed(self.processes):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.processes.clear()

    def say(self, sender: str, text: str, metadata: dict | None = None) -> list[dict]:
        payload: dict = {"sender": sender, "message": text}
        if metadata:
            payload["metadata"] = metadata
        response = httpx.post(f"{self.rasa_url}/webhooks/rest/webhook", json=payload, timeout=30.0)
        response.raise_for_status()
        return list(response.json())

    def tracker(self, sender: str) -> dict:
        response = httpx.get(f"{self.rasa_url}/conversations/{sender}/tracker", params={"token": self.token},
                             timeout=30.0)
        response.raise_for_status()
        return dict(response.json())
