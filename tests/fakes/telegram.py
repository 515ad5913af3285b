"""A local HTTP server that speaks the Telegram Bot API, for driving the real aiogram bot.

aiogram points at it with `TelegramAPIServer.from_base(fake.url)` (codedrop's setting
`CODEDROP_TELEGRAM_API_URL`). It serves the methods the bot uses with the JSON shapes of the
real API (https://core.telegram.org/bots/api): `getMe`, long-polled `getUpdates`,
`sendMessage`, `editMessageText`, `answerCallbackQuery`, `getChatMember`, `getFile` and file
downloads, `setMyCommands`, `setWebhook`/`deleteWebhook`. A test queues updates built from real
Update shapes (`send_text`, `press`, `send_document`), then awaits what the bot sent
(`wait_for`). It can answer 429 with `retry_after` (`flood`) and act as a user who blocked the
bot (`blocked`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web

T = TypeVar("T")

JSON_FIELDS = {
    "reply_markup",
    "commands",
    "scope",
    "allowed_updates",
    "entities",
    "link_preview_options",
    "reply_parameters",
}
INT_FIELDS = {"chat_id", "user_id", "message_id", "offset", "limit", "timeout"}


@dataclass
class Call:
    """One request the bot made, with the answer it got."""

    method: str
    params: dict[str, Any]
    at: float
    status: int = 200
    result: Any = None


@dataclass
class FakeUser:
    id: int
    first_name: str = "Member"
    username: str | None = None
    language_code: str = "en"

    def to_api(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "is_bot": False,
            "first_name": self.first_name,
            "language_code": self.language_code,
        }
        if self.username:
            data["username"] = self.username
        return data


@dataclass
class FakeChat:
    id: int
    type: str  # private, group, supergroup, channel
    title: str | None = None
    username: str | None = None
    first_name: str | None = None

    def to_api(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.title:
            data["title"] = self.title
        if self.username:
            data["username"] = self.username
        if self.first_name:
            data["first_name"] = self.first_name
        return data


@dataclass
class FloodPlan:
    retry_after: int
    times: int
    chat_id: int | None = None


@dataclass
class StoredFile:
    file_id: str
    unique_id: str
    path: str
    content: bytes


@dataclass
class FakeTelegram:
    """The fake Bot API server and the state a test inspects."""

    token: str = "123456:TEST-token-for-codedrop"
    bot_id: int = 123456
    bot_username: str = "codedrop_test_bot"
    calls: list[Call] = field(default_factory=list)
    messages: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    members: dict[tuple[str, int], str] = field(default_factory=dict)
    known_chats: dict[str, FakeChat] = field(default_factory=dict)
    files: dict[str, StoredFile] = field(default_factory=dict)
    blocked: set[int] = field(default_factory=set)
    webhook: dict[str, Any] = field(default_factory=dict)
    send_delay: float = 0.0  # seconds sendMessage takes (a slow API keeps answers in flight)

    def __post_init__(self) -> None:
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._ids = itertools.count(1)
        self._floods: dict[str, list[FloodPlan]] = {}
        self._changed = asyncio.Condition()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self.url = ""

    # server ---------------------------------------------------------------------------------

    async def start(self) -> str:
        """Listen on a free local port; returns the base URL for `TelegramAPIServer.from_base`."""
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        self._closing = True
        await self._notify()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    @property
    def bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "codedrop",
            "username": self.bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _read_params(request)
        call = Call(method=method, params=params, at=time.monotonic())
        self.calls.append(call)
        await self._notify()
        if request.match_info["token"] != self.token:
            return self._answer(call, 401, error="Unauthorized")
        flood = self._take_flood(method, params)
        if flood is not None:
            return self._answer(
                call,
                429,
                error=f"Too Many Requests: retry after {flood}",
                parameters={"retry_after": flood},
            )
        handler = getattr(self, "_m_" + method, None)
        if handler is None:
            return self._answer(call, 404, error="Not Found: method not found")
        try:
            result = await handler(params)
        except _ApiError as exc:
            return self._answer(call, exc.status, error=exc.description)
        return self._answer(call, 200, result=result)

    def _answer(
        self,
        call: Call,
        status: int,
        *,
        result: Any = None,
        error: str = "",
        parameters: dict[str, Any] | None = None,
    ) -> web.Response:
        call.status, call.result = status, result
        body: dict[str, Any] = {"ok": status == 200}
        if status == 200:
            body["result"] = result
        else:
            body["error_code"] = status
            body["description"] = error
            if parameters:
                body["parameters"] = parameters
        asyncio.get_running_loop().create_task(self._notify())
        return web.json_response(body, status=status)

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        path = request.match_info["path"]
        for stored in self.files.values():
            if stored.path == path:
                return web.Response(body=stored.content, content_type="application/octet-stream")
        return web.Response(status=404)

    def _take_flood(self, method: str, params: dict[str, Any]) -> int | None:
        plans = self._floods.get(method) or []
        for plan in plans:
            if plan.chat_id is None or plan.chat_id == params.get("chat_id"):
                plan.times -= 1
                if plan.times <= 0:
                    plans.remove(plan)
                return plan.retry_after
        return None

    # Bot API methods ------------------------------------------------------------------------

    async def _m_getMe(self, params: dict[str, Any]) -> Any:
        return self.bot_user

    async def _m_getUpdates(self, params: dict[str, Any]) -> Any:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates and timeout > 0 and not self._closing:
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._changed.wait_for(lambda: bool(self._updates) or self._closing),
                        timeout,
                    )
        return self._updates[:limit]

    async def _m_deleteWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = {}
        return True

    async def _m_setWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = dict(params)
        return True

    async def _m_setMyCommands(self, params: dict[str, Any]) -> Any:
        return True

    async def _m_sendMessage(self, params: dict[str, Any]) -> Any:
        if self.send_delay:
            await asyncio.sleep(self.send_delay)
        chat = self._chat(params["chat_id"])
        if chat.type == "private" and chat.id in self.blocked:
            raise _ApiError(403, "Forbidden: bot was blocked by the user")
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat.to_api(),
            "from": self.bot_user,
            "text": params["text"],
        }
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        # kept as sent, for the tests' eyes (the real API would turn HTML into entities)
        message["parse_mode"] = params.get("parse_mode")
        self.messages[(chat.id, message["message_id"])] = message
        return message

    async def _m_editMessageText(self, params: dict[str, Any]) -> Any:
        chat = self._chat(params["chat_id"])
        key = (chat.id, int(params["message_id"]))
        if key not in self.messages:
            raise _ApiError(400, "Bad Request: message to edit not found")
        message = self.messages[key]
        if message["text"] == params["text"] and message.get("reply_markup") == params.get(
            "reply_markup"
        ):
            raise _ApiError(400, "Bad Request: message is not modified")
        message["text"] = params["text"]
        message["reply_markup"] = params.get("reply_markup")
        message["edit_date"] = int(time.time())
        return message

    async def _m_deleteMessage(self, params: dict[str, Any]) -> Any:
        chat = self._chat(params["chat_id"])
        self.messages.pop((chat.id, int(params["message_id"])), None)
        return True

    async def _m_answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        return True

    async def _m_getChatMember(self, params: dict[str, Any]) -> Any:
        chat = str(params["chat_id"])
        if chat not in self.known_chats:
            raise _ApiError(400, "Bad Request: chat not found")
        user_id = int(params["user_id"])
        status = self.members.get((chat, user_id), "left")
        member: dict[str, Any] = {
            "status": status,
            "user": FakeUser(user_id).to_api(),
        }
        if status == "administrator":
            member.update(
                {
                    "can_be_edited": False,
                    "is_anonymous": False,
                    "can_manage_chat": True,
                    "can_delete_messages": True,
                    "can_manage_video_chats": False,
                    "can_restrict_members": True,
                    "can_promote_members": False,
                    "can_change_info": True,
                    "can_invite_users": True,
                    "can_post_stories": False,
                    "can_edit_stories": False,
                    "can_delete_stories": False,
                }
            )
        if status == "creator":
            member["is_anonymous"] = False
        return member

    async def _m_getFile(self, params: dict[str, Any]) -> Any:
        stored = self.files.get(str(params["file_id"]))
        if stored is None:
            raise _ApiError(400, "Bad Request: invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.unique_id,
            "file_size": len(stored.content),
            "file_path": stored.path,
        }

    def _chat(self, chat_id: Any) -> FakeChat:
        key = str(chat_id)
        if key in self.known_chats:
            return self.known_chats[key]
        if isinstance(chat_id, int) and chat_id > 0:
            return FakeChat(chat_id, "private", first_name="Member")
        raise _ApiError(400, "Bad Request: chat not found")

    # test side: the world around the bot ----------------------------------------------------

    def user(self, user_id: int, first_name: str = "Member", **extra: Any) -> FakeUser:
        """A Telegram user, with their private chat known to the server."""
        u = FakeUser(user_id, first_name, **extra)
        self.known_chats[str(user_id)] = FakeChat(user_id, "private", first_name=first_name)
        return u

    def group(self, chat_id: int, title: str = "Players", username: str | None = None) -> FakeChat:
        chat = FakeChat(chat_id, "supergroup", title=title, username=username)
        self.known_chats[str(chat_id)] = chat
        if username:
            self.known_chats["@" + username] = chat
        return chat

    def channel(self, chat_id: int, username: str) -> FakeChat:
        chat = FakeChat(chat_id, "channel", title=username, username=username)
        self.known_chats[str(chat_id)] = chat
        self.known_chats["@" + username] = chat
        return chat

    def set_member(self, chat: str, user_id: int, status: str = "member") -> None:
        """Make `getChatMember(chat, user)` answer `status` (member, administrator, left...)."""
        self.members[(chat, user_id)] = status

    def flood(
        self, method: str, retry_after: int, *, times: int = 1, chat_id: int | None = None
    ) -> None:
        """Answer the next `times` calls of `method` (to `chat_id`) with 429 retry_after."""
        self._floods.setdefault(method, []).append(FloodPlan(retry_after, times, chat_id))

    def private(self, user: FakeUser) -> FakeChat:
        return self.known_chats[str(user.id)]

    def _queue(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": next(self._update_ids), kind: payload}
        self._updates.append(update)
        asyncio.get_running_loop().create_task(self._notify())
        return update

    def text_message(self, user: FakeUser, chat: FakeChat | None, text: str) -> dict[str, Any]:
        """A Message from `user` in `chat` (their private chat by default), with command entities."""
        chat = chat or self.private(user)
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat.to_api(),
            "from": user.to_api(),
            "text": text,
        }
        if text.startswith("/"):
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": len(text.split()[0])}
            ]
        return message

    def send_text(self, user: FakeUser, text: str, chat: FakeChat | None = None) -> dict[str, Any]:
        """Queue a text message update; returns the update."""
        return self._queue("message", self.text_message(user, chat, text))

    def press(self, user: FakeUser, message: dict[str, Any], data: str) -> dict[str, Any]:
        """Queue a callback query: `user` pressed the button carrying `data` on `message`."""
        buttons = [
            b["callback_data"]
            for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
            for b in row
            if "callback_data" in b
        ]
        assert data in buttons, f"no button {data!r} on that message (has {buttons})"
        return self._queue(
            "callback_query",
            {
                "id": str(next(self._ids)) + "00" + str(user.id),
                "from": user.to_api(),
                "message": {k: v for k, v in message.items() if k != "parse_mode"},
                "chat_instance": f"ci-{message['chat']['id']}",
                "data": data,
            },
        )

    def send_document(
        self,
        user: FakeUser,
        filename: str,
        content: bytes,
        *,
        caption: str | None = None,
        mime_type: str = "text/csv",
        chat: FakeChat | None = None,
    ) -> dict[str, Any]:
        """Queue a document message; the file is served by getFile and the file URL."""
        n = next(self._ids)
        stored = StoredFile(f"doc-{n}", f"u-{n}", f"documents/file_{n}_{filename}", content)
        self.files[stored.file_id] = stored
        message = self.text_message(user, chat, "")
        del message["text"]
        message["document"] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.unique_id,
            "file_name": filename,
            "mime_type": mime_type,
            "file_size": len(content),
        }
        if caption:
            message["caption"] = caption
        return self._queue("message", message)

    # test side: what the bot did ------------------------------------------------------------

    def calls_of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def sent_to(self, chat_id: int) -> list[dict[str, Any]]:
        """Messages delivered to a chat, oldest first."""
        return [
            c.result
            for c in self.calls
            if c.method == "sendMessage"
            and c.status == 200
            and c.result is not None  # None: still being answered
            and c.result["chat"]["id"] == chat_id
        ]

    def answered(self) -> list[Call]:
        return [c for c in self.calls_of("answerCallbackQuery") if c.status == 200]

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 15.0) -> T:
        """Wait until `predicate()` is truthy (re-checked after every API call); return it."""
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(predicate), timeout)
            except TimeoutError:
                raise AssertionError(
                    f"timed out after {timeout}s; the bot made {len(self.calls)} calls: "
                    + ", ".join(f"{c.method}:{c.status}" for c in self.calls[-15:])
                ) from None
        return predicate()


class _ApiError(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


async def _read_params(request: web.Request) -> dict[str, Any]:
    """Form fields (aiogram's encoding) or a JSON body, with JSON fields decoded."""
    if request.content_type == "application/json":
        raw: dict[str, Any] = await request.json()
    else:
        raw = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
    params: dict[str, Any] = {}
    for key, value in raw.items():
        if key in JSON_FIELDS and isinstance(value, str):
            value = json.loads(value)
        elif key in INT_FIELDS and isinstance(value, str) and value.lstrip("-").isdigit():
            value = int(value)
        params[key] = value
    return params
