"""Rasa 3.6's socket.io channel with `enter_room` awaited.

Why: with `session_persistence: true` Rasa 3.6.21 calls `sio.enter_room(...)` without `await`; since
python-socketio 5.10 that is a coroutine, so the browser never joins its session room and bot replies
go to nobody (RasaHQ/rasa#13027). This subclass re-registers `session_request` correctly; everything
else is Rasa's own channel. Configured in credentials.yml as `bot.nlu.socketio_channel.MemnunSocketIOInput`.
"""

from __future__ import annotations

import uuid
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint


class MemnunSocketIOInput(SocketIOInput):
    @classmethod
    def name(cls) -> Text:
        # Keep Rasa's channel name so `output_channel=socketio` and tracker metadata stay the same.
        return "socketio"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = super().blueprint(on_new_message)
        sio = self.sio

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Optional[Dict]) -> None:
            data = data or {}
            if data.get("session_id") is None:
                data["session_id"] = uuid.uuid4().hex
            if self.session_persistence:
                await sio.enter_room(sid, data["session_id"])
            await sio.emit("session_confirm", data["session_id"], room=sid)

        return blueprint
