"""Telegram flood limits, enforced on our side so we rarely see a 429 at all.

Telegram allows about 30 messages per second per bot, 20 per minute per group, and advises about one
message per second per private chat (short bursts are tolerated). PTB's :class:`AIORateLimiter` covers the
first two, but it has no per-private-chat limit (which matters for a broadcast of check-ins or a long
split answer), and its pause after a 429 is not reliable under concurrency: the pause is an event that
*any* request finishing meanwhile re-opens, so other chats' messages go out while Telegram still says
"wait". This subclass adds a leaky bucket per private chat (default: bursts of 3, then 1 message per
second) and a flood gate that keeps every request back until the latest ``retry_after`` has passed.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.error import RetryAfter
from telegram.ext import AIORateLimiter

#: How many per-chat limiters to keep before forgetting idle ones.
_MAX_IDLE_LIMITERS = 1024


def retry_after_seconds(error: RetryAfter) -> float:
    """``retry_after`` in seconds (PTB 22 returns int or timedelta depending on a migration switch)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class PerChatRateLimiter(AIORateLimiter):
    """:class:`AIORateLimiter` plus a per-private-chat limit for messages (not for "typing…" or answers)."""

    def __init__(
        self,
        *,
        overall_max_rate: float = 30,
        overall_time_period: float = 1,
        group_max_rate: float = 20,
        group_time_period: float = 60,
        per_chat_max_rate: float = 3,
        per_chat_time_period: float = 3,
        max_retries: int = 3,
    ) -> None:
        super().__init__(
            overall_max_rate=overall_max_rate,
            overall_time_period=overall_time_period,
            group_max_rate=group_max_rate,
            group_time_period=group_time_period,
            max_retries=max_retries,
        )
        self._per_chat_max_rate = per_chat_max_rate
        self._per_chat_time_period = per_chat_time_period
        self._chat_limiters: dict[int, AsyncLimiter] = {}
        #: Event-loop time before which no request may go out (the latest 429's retry_after).
        self._gate_closed_until = 0.0

    async def _pass_flood_gate(self) -> None:
        loop = asyncio.get_running_loop()
        while (wait := self._gate_closed_until - loop.time()) > 0:
            await asyncio.sleep(wait)

    def _close_flood_gate(self, seconds: float) -> None:
        until = asyncio.get_running_loop().time() + seconds
        self._gate_closed_until = max(self._gate_closed_until, until)

    def _chat_limiter(self, chat_id: int) -> AsyncLimiter:
        if len(self._chat_limiters) > _MAX_IDLE_LIMITERS:
            for key, limiter in list(self._chat_limiters.items()):
                if key != chat_id and limiter.has_capacity(limiter.max_rate):
                    del self._chat_limiters[key]
        if chat_id not in self._chat_limiters:
            self._chat_limiters[chat_id] = AsyncLimiter(
                max_rate=self._per_chat_max_rate, time_period=self._per_chat_time_period
            )
        return self._chat_limiters[chat_id]

    @staticmethod
    def _private_chat_id(endpoint: str, data: dict[str, Any]) -> int | None:
        # Messages count; chat actions, callback answers and edits of a keyboard do not.
        if not endpoint.startswith("send") or endpoint == "sendChatAction":
            return None
        try:
            chat_id = int(data.get("chat_id"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None
        return chat_id if chat_id > 0 else None

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        chat_id = self._private_chat_id(endpoint, data)
        chat_limiter = self._chat_limiter(chat_id) if chat_id is not None and self._per_chat_max_rate else None

        async def guarded(*call_args: Any, **call_kwargs: Any) -> Any:
            if chat_limiter is not None:
                async with chat_limiter:  # takes capacity; nothing to release
                    pass
            await self._pass_flood_gate()
            try:
                return await callback(*call_args, **call_kwargs)
            except RetryAfter as error:
                self._close_flood_gate(retry_after_seconds(error))
                raise

        # PTB's limiter around it: overall and group limits, and retrying after a 429 (max_retries).
        return await super().process_request(guarded, args, kwargs, endpoint, data, rate_limit_args)
