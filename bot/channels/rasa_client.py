"""A small async client for the Rasa server's HTTP API, used by every process that talks to Rasa.

Why one client: the Telegram connector, the scheduler's outbox sender, the console (takeover) and the
benchmark all need the same things — the auth token on every call, timeouts, and a single exception type
(`RasaUnavailable`) that callers turn into "one moment, retrying" instead of a crash.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from bot.settings import Settings, get_settings


class RasaUnavailable(RuntimeError):
    """Rasa could not be reached, timed out or answered with a server error. Safe to retry later.

    ``maybe_processed`` tells whether Rasa may nevertheless have handled the request: False only when it
    certainly never got there (no connection could be opened); True after a timeout, a connection lost
    once the request was on its way, or a 5xx. Callers that must not repeat a message (the Telegram
    connector) look in the conversation's tracker before sending it again when it is True.
    """

    def __init__(self, message: str, *, maybe_processed: bool = True) -> None:
        super().__init__(message)
        self.maybe_processed = maybe_processed


class RasaRequestRejected(RuntimeError):
    """Rasa answered 4xx: retrying the same request will not help."""


#: Failures before any byte of the request left this process: Rasa cannot have processed it.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class RasaClient:
    """Async wrapper around Rasa's REST channel and conversation API.

    Use as an async context manager or call :meth:`aclose` when done.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        base_url: str | None = None,
        token: str | None = None,
        timeout_s: float | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        settings = settings or get_settings()
        self._settings = settings
        self._fixed_base_url = base_url.rstrip("/") if base_url else None
        self.base_url = self._fixed_base_url or settings.rasa_url
        self._token = token if token is not None else settings.rasa_token.get_secret_value()
        timeout = timeout_s if timeout_s is not None else settings.rasa_request_timeout_s
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )
        self._owns_client = client is None

    async def __aenter__(self) -> RasaClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    # -- helpers -------------------------------------------------------------------
    def base_url_for(self, sender_id: str) -> str:
        """Each conversation always goes to the same Rasa process (see Settings.rasa_instances)."""
        return self._fixed_base_url or self._settings.rasa_url_for(sender_id)

    def _conversation_url(self, sender_id: str, suffix: str) -> str:
        return f"{self.base_url_for(sender_id)}/conversations/{quote(sender_id, safe='')}/{suffix}"

    async def _request(self, method: str, url: str, **kwargs: Any) -> Any:
        params = dict(kwargs.pop("params", {}) or {})
        if self._token:
            params["token"] = self._token
        try:
            response = await self._client.request(method, url, params=params, **kwargs)
        except _NOT_SENT as exc:
            raise RasaUnavailable(f"{type(exc).__name__} calling Rasa", maybe_processed=False) from exc
        except (httpx.TransportError, httpx.TimeoutException) as exc:
            raise RasaUnavailable(f"{type(exc).__name__} calling Rasa") from exc
        if response.status_code >= 500:
            raise RasaUnavailable(f"Rasa answered {response.status_code}")
        if response.status_code >= 400:
            raise RasaRequestRejected(f"Rasa answered {response.status_code}: {response.text[:200]}")
        if not response.content:
            return None
        return response.json()

    # -- API -----------------------------------------------------------------------
    async def send_message(
        self, sender_id: str, text: str, metadata: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Send a customer message through the REST channel; returns the bot's messages."""
        payload: dict[str, Any] = {"sender": sender_id, "message": text}
        if metadata:
            payload["metadata"] = metadata
        result = await self._request("POST", f"{self.base_url_for(sender_id)}/webhooks/rest/webhook", json=payload)
        return list(result or [])

    async def trigger_intent(
        self,
        sender_id: str,
        intent: str,
        entities: dict[str, Any] | None = None,
        output_channel: str = "collector",
    ) -> list[dict[str, Any]]:
        """Inject an intent (e.g. a scheduled check-in); returns the messages the bot uttered."""
        body = {"name": intent, "entities": entities or {}}
        result = await self._request(
            "POST",
            self._conversation_url(sender_id, "trigger_intent"),
            params={"output_channel": output_channel},
            json=body,
        )
        return list((result or {}).get("messages", []))

    async def append_events(self, sender_id: str, events: list[dict[str, Any]]) -> dict[str, Any]:
        """Append events (e.g. ``{"event": "pause"}``) to a conversation's tracker."""
        result = await self._request("POST", self._conversation_url(sender_id, "tracker/events"), json=events)
        return dict(result or {})

    async def get_tracker(self, sender_id: str, include_events: str = "ALL") -> dict[str, Any]:
        """The conversation's tracker (``include_events``: ALL, APPLIED, AFTER_RESTART or NONE)."""
        result = await self._request(
            "GET", self._conversation_url(sender_id, "tracker"), params={"include_events": include_events}
        )
        return dict(result or {})

    async def status(self) -> dict[str, Any]:
        """Rasa's `/status` (model fingerprint); raises RasaUnavailable when Rasa is not up."""
        return dict(await self._request("GET", f"{self.base_url}/status") or {})
