"""A fake Telegram Bot API server for tests: real HTTP on 127.0.0.1, so the code under test is unmodified PTB.

Point python-telegram-bot at it with ``base_url=api.base_url`` (``http://127.0.0.1:<port>/bot``).

It implements what our connector and sender call — getMe, getUpdates (long polling with offsets and
timeout), deleteWebhook, setWebhook, getWebhookInfo, sendMessage, sendPhoto, sendDocument (a multipart
upload: the file's name and bytes are kept), sendChatAction, answerCallbackQuery, editMessageReplyMarkup —
and checks requests the way Telegram does where it matters
for us: HTML entity parsing (an unescaped ``<`` is a 400 "can't parse entities"), the 4096-character text
and 1024-character caption limits (UTF-16 units, after parsing), 1-64-byte ``callback_data``, unknown
chats, answering a callback query twice, "message is not modified".

Tests drive it with:

- ``enqueue_text / enqueue_command / enqueue_contact / enqueue_callback / enqueue_photo /
  enqueue_my_chat_member`` to create updates (delivered by getUpdates, or pushed to the webhook when one is
  set), ``redeliver(update)`` to deliver the same update id again (Telegram's at-least-once delivery);
- ``fail_next(count, status=429, retry_after=1)``, ``fail_next(count, status=500)``, ``block_chat(id)``
  (403 "bot was blocked by the user"), ``set_delay(method, seconds)``, ``unfetchable_photos`` to inject
  faults;
- ``calls`` (every request with its parsed parameters, arrival time and answer status), ``sent(chat_id)``
  (the bot's messages as the customer sees them), ``wait_for(...)`` helpers;
- ``post_to_webhook(update, secret_token=...)`` to post one update to the registered webhook URL with any
  (or no) secret header and get the HTTP status back.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

DEFAULT_TOKEN = "7000000001:AAF-fake-token-for-tests_only"

_INT_PARAMS = {"chat_id", "message_id", "offset", "limit", "timeout", "max_connections", "cache_time"}
_JSON_PARAMS = {"reply_markup", "allowed_updates", "entities", "caption_entities", "link_preview_options",
                "reply_parameters"}
_BOOL_PARAMS = {"drop_pending_updates", "show_alert", "disable_notification", "protect_content"}
_ALLOWED_HTML_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre", "span",
                      "tg-spoiler", "tg-emoji", "blockquote"}
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^<>]*)?)>")
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")
_CAPTION_TOO_LONG = "Bad Request: message caption is too long"


class TelegramError(Exception):
    """An API error answer: HTTP ``status`` with Telegram's JSON error body."""

    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


@dataclass
class Call:
    """One request the fake received."""

    method: str
    params: dict[str, Any]
    at: float
    status: int = 0
    answered_at: float = 0.0
    result: Any = None


@dataclass
class Fault:
    """Answer the next ``remaining`` matching calls with an error instead of handling them."""

    status: int
    description: str
    remaining: int
    methods: frozenset[str] | None = None
    retry_after: int | None = None
    chat_id: int | None = None
    #: Let this many matching calls through first (e.g. fail from the second part of an answer on).
    after: int = 0

    def matches(self, method: str, params: dict[str, Any]) -> bool:
        if self.remaining <= 0:
            return False
        if self.methods is not None and method not in self.methods:
            return False
        if self.methods is None and method in _NEVER_FAULTED:
            return False
        if self.chat_id is not None and params.get("chat_id") != self.chat_id:
            return False
        if self.after > 0:
            self.after -= 1
            return False
        return True


#: Bookkeeping methods a fault with ``methods=None`` leaves alone (so "fail the next N calls" hits sends).
_NEVER_FAULTED = frozenset({"getMe", "getUpdates", "deleteWebhook", "setWebhook", "getWebhookInfo", "close"})


@dataclass(frozen=True)
class Upload:
    """A file uploaded in a multipart request (``sendDocument``)."""

    filename: str
    content: bytes
    content_type: str | None


@dataclass
class SentMessage:
    """A message the bot sent, as the customer sees it (``text`` is after HTML parsing)."""

    chat_id: int
    message_id: int
    text: str | None
    raw_text: str | None
    parse_mode: str | None
    photo: str | None
    reply_markup: dict[str, Any] | None  # what was sent (inline keyboard, reply keyboard or remove)
    inline_keyboard: list[list[dict[str, Any]]] | None  # current inline keyboard (None once removed)
    at: float
    edits: list[dict[str, Any] | None] = field(default_factory=list)
    document: Upload | None = None

    @property
    def button_titles(self) -> list[str]:
        return [button["text"] for row in (self.inline_keyboard or []) for button in row]

    def callback_data(self, title: str) -> str:
        for row in self.inline_keyboard or []:
            for button in row:
                if button["text"] == title:
                    return str(button["callback_data"])
        raise KeyError(title)

    def as_dict(self, bot_user: dict[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": self.message_id,
            "date": int(self.at),
            "chat": {"id": self.chat_id, "type": "private", "first_name": "Customer"},
            "from": bot_user,
        }
        if self.document is not None:
            message["document"] = {"file_id": f"doc-{self.message_id}", "file_unique_id": f"d{self.message_id}",
                                   "file_name": self.document.filename, "file_size": len(self.document.content)}
            if self.text:
                message["caption"] = self.text
        elif self.photo is not None:
            message["photo"] = [{"file_id": f"photo-{self.message_id}", "file_unique_id": f"u{self.message_id}",
                                 "width": 640, "height": 480}]
            if self.text:
                message["caption"] = self.text
        else:
            message["text"] = self.text or ""
        if self.inline_keyboard:
            message["reply_markup"] = {"inline_keyboard": self.inline_keyboard}
        return message


def utf16_len(value: str) -> int:
    return len(value.encode("utf-16-le")) // 2


def parse_html(text: str) -> str:
    """Telegram's HTML parse mode: the visible text, or TelegramError(400) for what Telegram rejects."""
    visible: list[str] = []
    stack: list[str] = []
    position = 0
    while position < len(text):
        char = text[position]
        if char == "<":
            match = _TAG.match(text, position)
            if match is None:
                raise TelegramError(400, f"Bad Request: can't parse entities: Unexpected character '<' at "
                                         f"byte offset {len(text[:position].encode())}")
            closing, name = match.group(1), match.group(2).lower()
            if name not in _ALLOWED_HTML_TAGS:
                raise TelegramError(400, f'Bad Request: can\'t parse entities: Unsupported start tag "{name}" '
                                         f"at byte offset {len(text[:position].encode())}")
            if closing:
                if not stack or stack[-1] != name:
                    raise TelegramError(400, f'Bad Request: can\'t parse entities: Unmatched end tag "{name}"')
                stack.pop()
            else:
                stack.append(name)
            position = match.end()
            continue
        if char == "&":
            match = _ENTITY.match(text, position)
            if match is None:
                raise TelegramError(400, "Bad Request: can't parse entities: Character '&' is reserved and must "
                                         "be escaped with the preceding '\\'")
            visible.append(html.unescape(match.group(0)))
            position = match.end()
            continue
        if char == ">":
            raise TelegramError(400, "Bad Request: can't parse entities: Character '>' is reserved")
        visible.append(char)
        position += 1
    if stack:
        raise TelegramError(400, f"Bad Request: can't parse entities: Can't find end tag corresponding to start "
                                 f'tag "{stack[-1]}"')
    return "".join(visible)


def _free_port_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class FakeTelegramAPI:
    """See the module docstring. Use as ``async with FakeTelegramAPI() as api:``."""

    def __init__(self, token: str = DEFAULT_TOKEN, *, bot_username: str = "memnun_test_bot") -> None:
        self.token = token
        self.bot_id = int(token.split(":")[0])
        self.bot_user = {
            "id": self.bot_id, "is_bot": True, "first_name": "Memnun", "username": bot_username,
            "can_join_groups": False, "can_read_all_group_messages": False, "supports_inline_queries": False,
        }
        self.calls: list[Call] = []
        self.faults: list[Fault] = []
        self.delays: dict[str, float] = {}
        self.blocked_chats: set[int] = set()
        self.known_chats: set[int] = set()
        self.unfetchable_photos: set[str] = set()
        self.users: dict[int, dict[str, Any]] = {}
        self.messages: dict[int, list[SentMessage]] = {}
        self.chat_actions: list[tuple[int, str, float]] = []
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        self.webhook_deliveries: list[tuple[int, int]] = []  # (update_id, HTTP status)
        self._pending: list[dict[str, Any]] = []
        self._update_ids = itertools.count(523_000_001)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._callback_ids = itertools.count(1)
        self._open_callback_queries: set[str] = set()
        self._changed = asyncio.Condition()
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._server_task: asyncio.Task[None] | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._closing = False
        self.port = 0

    # -- lifecycle -------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    async def __aenter__(self) -> FakeTelegramAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        app = Starlette(routes=[Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"])])
        self._socket = _free_port_socket()
        self.port = self._socket.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1,
                                timeout_keep_alive=5)
        self._server = uvicorn.Server(config)
        self._server_task = asyncio.create_task(self._server.serve(sockets=[self._socket]))
        deadline = time.monotonic() + 5
        while not self._server.started:
            if self._server_task.done():
                self._server_task.result()
            if time.monotonic() > deadline:
                raise RuntimeError("fake Telegram API did not start")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self._closing = True
        async with self._changed:
            self._changed.notify_all()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
        if self._server is not None and self._server_task is not None:
            self._server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._server_task, 5)
        if self._socket is not None:
            self._socket.close()

    # -- fault injection ------------------------------------------------------------------------------------

    def fail_next(
        self,
        count: int,
        *,
        status: int = 500,
        retry_after: int | None = None,
        methods: set[str] | None = None,
        chat_id: int | None = None,
        description: str | None = None,
        after: int = 0,
    ) -> Fault:
        """The next ``count`` matching calls fail (default: every sending method)."""
        if description is None:
            description = {
                429: f"Too Many Requests: retry after {retry_after}",
                500: "Internal Server Error",
                502: "Bad Gateway",
                403: "Forbidden: bot was blocked by the user",
            }.get(status, f"Error {status}")
        fault = Fault(status=status, description=description, remaining=count,
                      methods=frozenset(methods) if methods else None, retry_after=retry_after, chat_id=chat_id,
                      after=after)
        self.faults.append(fault)
        return fault

    def block_chat(self, chat_id: int) -> None:
        """The customer blocked the bot: every call for this chat gets 403."""
        self.blocked_chats.add(chat_id)

    def unblock_chat(self, chat_id: int) -> None:
        self.blocked_chats.discard(chat_id)

    def set_delay(self, method: str, seconds: float) -> None:
        self.delays[method] = seconds

    # -- updates ---------------------------------------------------------------------------------------------

    def user(self, user_id: int, first_name: str = "Ayşe", language_code: str | None = "tr") -> dict[str, Any]:
        """A Telegram user (their private chat has the same id) who has started the bot."""
        user = {"id": user_id, "is_bot": False, "first_name": first_name}
        if language_code:
            user["language_code"] = language_code
        self.users[user_id] = user
        self.known_chats.add(user_id)
        return user

    def _next_message_id(self, chat_id: int) -> int:
        counter = self._message_ids.setdefault(chat_id, itertools.count(1))
        return next(counter)

    def _user_message(self, user: dict[str, Any], **content: Any) -> dict[str, Any]:
        self.known_chats.add(user["id"])
        return {
            "message_id": self._next_message_id(user["id"]),
            "date": int(time.time()),
            "chat": {"id": user["id"], "type": "private", "first_name": user["first_name"]},
            "from": user,
            **content,
        }

    def _enqueue(self, body: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": next(self._update_ids), **body}
        self._pending.append(update)
        self._notify()
        return update

    def _notify(self) -> None:
        async def notify() -> None:
            async with self._changed:
                self._changed.notify_all()

        asyncio.get_running_loop().create_task(notify())
        self._kick_webhook()

    def enqueue_text(self, user: dict[str, Any], text: str) -> dict[str, Any]:
        content: dict[str, Any] = {"text": text}
        command = re.match(r"/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?", text)
        if command:
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": command.end()}]
        return self._enqueue({"message": self._user_message(user, **content)})

    def enqueue_command(self, user: dict[str, Any], command: str, argument: str | None = None) -> dict[str, Any]:
        text = f"/{command.lstrip('/')}" + (f" {argument}" if argument else "")
        return self.enqueue_text(user, text)

    def enqueue_contact(
        self, user: dict[str, Any], phone: str, *, contact_user_id: int | None = None, first_name: str | None = None
    ) -> dict[str, Any]:
        """A shared contact; by default the sender's own (what the request_contact button produces)."""
        contact: dict[str, Any] = {"phone_number": phone, "first_name": first_name or user["first_name"]}
        owner = user["id"] if contact_user_id is None else contact_user_id
        if owner:
            contact["user_id"] = owner
        return self._enqueue({"message": self._user_message(user, contact=contact)})

    def enqueue_photo(self, user: dict[str, Any], caption: str | None = None) -> dict[str, Any]:
        content: dict[str, Any] = {
            "photo": [{"file_id": "user-photo", "file_unique_id": "up1", "width": 100, "height": 100}]
        }
        if caption:
            content["caption"] = caption
        return self._enqueue({"message": self._user_message(user, **content)})

    def enqueue_callback(self, user: dict[str, Any], message: SentMessage, data: str) -> dict[str, Any]:
        """The customer pressed a button with ``data`` on ``message`` (its keyboard as it is right now)."""
        query_id = f"cbq-{next(self._callback_ids)}"
        self._open_callback_queries.add(query_id)
        return self._enqueue({
            "callback_query": {
                "id": query_id,
                "from": user,
                "message": message.as_dict(self.bot_user),
                "chat_instance": f"ci-{user['id']}",
                "data": data,
            }
        })

    def press(self, user: dict[str, Any], message: SentMessage, title: str) -> dict[str, Any]:
        """Press the inline button labelled ``title``."""
        return self.enqueue_callback(user, message, message.callback_data(title))

    def enqueue_my_chat_member(self, user: dict[str, Any], status: str) -> dict[str, Any]:
        """``status="kicked"``: the customer blocked the bot; ``"member"``: unblocked/restarted it."""
        old = "member" if status == "kicked" else "kicked"
        return self._enqueue({
            "my_chat_member": {
                "chat": {"id": user["id"], "type": "private", "first_name": user["first_name"]},
                "from": user,
                "date": int(time.time()),
                "old_chat_member": {"status": old, "user": self.bot_user, **({"until_date": 0} if old == "kicked"
                                                                             else {})},
                "new_chat_member": {"status": status, "user": self.bot_user,
                                    **({"until_date": 0} if status == "kicked" else {})},
            }
        })

    def redeliver(self, update: dict[str, Any]) -> None:
        """Deliver an update again with the same update_id, as Telegram does when unsure it arrived."""
        copy = dict(update)
        copy["_redelivered"] = True  # survives one offset confirmation, like an unconfirmed update
        self._pending.append(copy)
        self._notify()

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        return list(self._pending)

    # -- observations ----------------------------------------------------------------------------------------

    def sent(self, chat_id: int) -> list[SentMessage]:
        return list(self.messages.get(chat_id, []))

    def texts(self, chat_id: int) -> list[str]:
        return [m.text or "" for m in self.sent(chat_id)]

    def documents(self, chat_id: int) -> list[Upload]:
        """The files the bot sent to the chat, in order."""
        return [m.document for m in self.sent(chat_id) if m.document is not None]

    def calls_of(self, method: str, chat_id: int | None = None) -> list[Call]:
        return [c for c in self.calls if c.method == method and (chat_id is None or c.params.get("chat_id") == chat_id)]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0, message: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {message or predicate}")
            await asyncio.sleep(0.02)

    async def wait_for_messages(self, chat_id: int, count: int, timeout: float = 10.0) -> list[SentMessage]:
        await self.wait_for(lambda: len(self.messages.get(chat_id, [])) >= count, timeout,
                            f"{count} messages in chat {chat_id} (have {self.texts(chat_id)})")
        return self.sent(chat_id)

    # -- webhook delivery -----------------------------------------------------------------------------------

    async def post_to_webhook(
        self, update: dict[str, Any], *, secret_token: str | None = None, use_registered_secret: bool = False,
        url: str | None = None,
    ) -> int:
        """POST one update to the webhook; returns the HTTP status the bot's server answered."""
        target = url or self.webhook_url
        assert target, "no webhook registered"
        headers = {"Content-Type": "application/json"}
        secret = self.webhook_secret if use_registered_secret else secret_token
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        async with httpx.AsyncClient(timeout=10) as client:
            body = {key: value for key, value in update.items() if not key.startswith("_")}
            response = await client.post(target, content=json.dumps(body), headers=headers)
        return response.status_code

    def _kick_webhook(self) -> None:
        if self.webhook_url and (self._webhook_task is None or self._webhook_task.done()) and not self._closing:
            self._webhook_task = asyncio.get_running_loop().create_task(self._push_webhook())

    async def _push_webhook(self) -> None:
        """Like Telegram: push pending updates in order, one at a time, retrying until a 2xx answer."""
        while self._pending and self.webhook_url and not self._closing:
            update = self._pending[0]
            try:
                status = await self.post_to_webhook(update, use_registered_secret=True)
            except httpx.HTTPError:
                status = 0
            self.webhook_deliveries.append((update["update_id"], status))
            if 200 <= status < 300:
                if self._pending and self._pending[0] is update:
                    self._pending.pop(0)
            else:
                await asyncio.sleep(0.2)

    # -- the HTTP endpoint ------------------------------------------------------------------------------------

    async def _params(self, request: Request) -> dict[str, Any]:
        raw: dict[str, Any] = dict(request.query_params)
        content_type = request.headers.get("content-type", "")
        if "application/json" in content_type:
            body = await request.body()
            if body:
                raw.update(json.loads(body))
        elif request.method == "POST":
            form = await request.form()
            for key, item in form.items():
                if isinstance(item, str):
                    raw[key] = item
                else:
                    raw[key] = Upload(str(item.filename or key), await item.read(), item.content_type)
        params: dict[str, Any] = {}
        for key, value in raw.items():
            if isinstance(value, str) and key in _INT_PARAMS:
                with contextlib.suppress(ValueError):
                    value = int(value)
            elif isinstance(value, str) and key in _JSON_PARAMS:
                value = json.loads(value)
            elif isinstance(value, str) and key in _BOOL_PARAMS:
                value = value.lower() == "true"
            params[key] = value
        return params

    async def _endpoint(self, request: Request) -> JSONResponse:
        method = request.path_params["method"]
        params = await self._params(request)
        call = Call(method=method, params=params, at=time.monotonic())
        self.calls.append(call)
        try:
            if request.path_params["token"] != self.token:
                raise TelegramError(401, "Unauthorized")
            delay = self.delays.get(method)
            if delay:
                await asyncio.sleep(delay)
            self._apply_faults(method, params)
            handler = getattr(self, f"_api_{method}", None)
            if handler is None:
                raise TelegramError(404, "Not Found: method not found")
            result = await handler(params)
        except TelegramError as error:
            body: dict[str, Any] = {"ok": False, "error_code": error.status, "description": error.description}
            if error.parameters:
                body["parameters"] = error.parameters
            call.status, call.answered_at, call.result = error.status, time.monotonic(), body
            return JSONResponse(body, status_code=error.status)
        call.status, call.answered_at, call.result = 200, time.monotonic(), result
        return JSONResponse({"ok": True, "result": result})

    def _apply_faults(self, method: str, params: dict[str, Any]) -> None:
        chat_id = params.get("chat_id")
        if chat_id in self.blocked_chats and method not in _NEVER_FAULTED:
            raise TelegramError(403, "Forbidden: bot was blocked by the user")
        for fault in self.faults:
            if fault.matches(method, params):
                fault.remaining -= 1
                parameters = {"retry_after": fault.retry_after} if fault.retry_after is not None else None
                raise TelegramError(fault.status, fault.description, parameters)

    def _require_chat(self, params: dict[str, Any]) -> int:
        chat_id = params.get("chat_id")
        if not isinstance(chat_id, int) or chat_id not in self.known_chats:
            raise TelegramError(400, "Bad Request: chat not found")
        return chat_id

    @staticmethod
    def _check_markup(markup: dict[str, Any] | None) -> None:
        if not markup:
            return
        for row in markup.get("inline_keyboard", []):
            for button in row:
                if not button.get("text"):
                    raise TelegramError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= 64:
                    raise TelegramError(400, "Bad Request: BUTTON_DATA_INVALID")
                if data is None and not button.get("url"):
                    raise TelegramError(400, "Bad Request: can't parse inline keyboard button")

    @staticmethod
    def _visible(text: str, parse_mode: str | None) -> str:
        if parse_mode is None:
            return text
        if parse_mode.upper() == "HTML":
            return parse_html(text)
        raise TelegramError(400, f"Bad Request: unsupported parse_mode {parse_mode!r} in this fake")

    def _record_send(
        self, chat_id: int, params: dict[str, Any], *, raw: str | None, limit: int, too_long: str,
        photo: str | None = None, document: Upload | None = None,
    ) -> dict[str, Any]:
        """What every send method shares once its own payload is checked: parse ``raw`` (the text or caption)
        like Telegram, check its length (``limit`` UTF-16 units, else 400 ``too_long``) and the keyboard, then
        record the message the customer sees and answer it."""
        parse_mode = params.get("parse_mode")
        visible = self._visible(str(raw), parse_mode) if raw else None
        if visible is not None and utf16_len(visible) > limit:
            raise TelegramError(400, too_long)
        markup = params.get("reply_markup")
        self._check_markup(markup)
        message = SentMessage(
            chat_id=chat_id, message_id=self._next_message_id(chat_id), text=visible, raw_text=raw,
            parse_mode=parse_mode, photo=photo, reply_markup=markup,
            inline_keyboard=(markup or {}).get("inline_keyboard") or None, at=time.monotonic(), document=document,
        )
        self.messages.setdefault(chat_id, []).append(message)
        return message.as_dict(self.bot_user)

    # -- API methods --------------------------------------------------------------------------------------------

    async def _api_getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.bot_user

    async def _api_deleteWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook_url = None
        self.webhook_secret = None
        if params.get("drop_pending_updates"):
            self._pending.clear()
        return True

    async def _api_setWebhook(self, params: dict[str, Any]) -> bool:
        url = params.get("url") or None
        if url and not str(url).startswith(("https://", "http://127.0.0.1")):
            raise TelegramError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        self.webhook_url = url
        self.webhook_secret = params.get("secret_token")
        if params.get("drop_pending_updates"):
            self._pending.clear()
        self._kick_webhook()
        return True

    async def _api_getWebhookInfo(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": self.webhook_url or "", "has_custom_certificate": False,
                "pending_update_count": len(self._pending)}

    async def _api_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook_url:
            raise TelegramError(409, "Conflict: can't use getUpdates method while webhook is active; use "
                                     "deleteWebhook to delete the webhook first")
        offset = params.get("offset")
        if isinstance(offset, int) and offset > 0:
            # Confirm everything below the offset (it will never be returned again)...
            self._pending = [u for u in self._pending if u["update_id"] >= offset or u.get("_redelivered")]
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + timeout
        async with self._changed:
            while not self._pending and not self._closing:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), remaining)
        batch = self._pending[:limit]
        # ...and a redelivered duplicate is returned once, then confirmed like the rest.
        for update in batch:
            update.pop("_redelivered", None)
        return [{key: value for key, value in u.items() if not key.startswith("_")} for u in batch]

    async def _api_sendChatAction(self, params: dict[str, Any]) -> bool:
        chat_id = self._require_chat(params)
        self.chat_actions.append((chat_id, str(params.get("action")), time.monotonic()))
        return True

    async def _api_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._require_chat(params)
        raw = params.get("text")
        if not raw or not str(raw).strip():
            raise TelegramError(400, "Bad Request: message text is empty")
        return self._record_send(chat_id, params, raw=str(raw), limit=4096, too_long="Bad Request: message is too long")

    async def _api_sendPhoto(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._require_chat(params)
        photo = str(params.get("photo") or "")
        if not photo:
            raise TelegramError(400, "Bad Request: there is no photo in the request")
        if photo in self.unfetchable_photos:
            raise TelegramError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        return self._record_send(chat_id, params, raw=params.get("caption"), limit=1024, too_long=_CAPTION_TOO_LONG,
                                 photo=photo)

    async def _api_sendDocument(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._require_chat(params)
        document = params.get("document")
        if not isinstance(document, Upload):
            # A file_id or URL would be fine for Telegram; this fake only needs (and checks) uploads.
            raise TelegramError(400, "Bad Request: there is no document in the request")
        if not document.content:
            raise TelegramError(400, "Bad Request: file must be non-empty")
        return self._record_send(chat_id, params, raw=params.get("caption"), limit=1024, too_long=_CAPTION_TOO_LONG,
                                 document=document)

    async def _api_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        query_id = str(params.get("callback_query_id"))
        if query_id not in self._open_callback_queries:
            raise TelegramError(400, "Bad Request: query is too old and response timeout expired or query ID is "
                                     "invalid")
        self._open_callback_queries.discard(query_id)
        return True

    async def _api_editMessageReplyMarkup(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._require_chat(params)
        message_id = params.get("message_id")
        message = next((m for m in self.messages.get(chat_id, []) if m.message_id == message_id), None)
        if message is None:
            raise TelegramError(400, "Bad Request: message to edit not found")
        new_keyboard = (params.get("reply_markup") or {}).get("inline_keyboard") or None
        if new_keyboard == message.inline_keyboard:
            raise TelegramError(400, "Bad Request: message is not modified: specified new message content and "
                                     "reply markup are exactly the same as a current content and reply markup "
                                     "of the message")
        self._check_markup(params.get("reply_markup"))
        message.inline_keyboard = new_keyboard
        message.edits.append(params.get("reply_markup"))
        return message.as_dict(self.bot_user)
