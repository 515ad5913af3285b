"""A local server speaking the parts of Discord's REST API and gateway a bot uses, and the
OAuth2 authorization-code grant (with PKCE) a website's "Sign in with Discord" uses.

Real discord.py connects to it exactly as to Discord: `GET /users/@me`, the application,
`GET /gateway/bot`, then a websocket with HELLO, IDENTIFY, READY, GUILD_CREATE and heartbeats.
Tests push INTERACTION_CREATE payloads in the shapes Discord sends and read back what the bot
answered: interaction callbacks, follow-up and edited webhook messages, channel messages and
DMs. Nothing of our own code is faked; only Discord is.

OAuth2: `/oauth2/authorize` approves as `authorizer` (a `FakeMember`; none: `access_denied`)
and redirects back with a single-use code bound to the S256 challenge, the redirect URI and
the scopes; `/api/oauth2/token` gives a bearer token only for the client secret and a
`code_verifier` whose SHA-256 is that challenge; the token reads `/api/users/@me` and, with
`guilds.members.read`, `/api/users/@me/guilds/{id}/member` of members in `guild_members`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import itertools
import json
import logging
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import BasicAuth, WSMsgType, web

log = logging.getLogger(__name__)

DISCORD_EPOCH_MS = 1_420_070_400_000
EPHEMERAL = 1 << 6
MANAGE_GUILD = 1 << 5
BASIC_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 31)  # view channel, send, use app commands

# interaction callback types
PONG, MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE, AUTOCOMPLETE = 1, 4, 5, 6, 7, 8


def snowflake_at(moment: datetime, counter: int = 0) -> int:
    """A Discord id created at `moment` (ids carry their creation time)."""
    ms = int(moment.timestamp() * 1000)
    return ((ms - DISCORD_EPOCH_MS) << 22) | (counter & 0x3FFFFF)


_counter = itertools.count(1)


def new_id() -> int:
    return snowflake_at(datetime.now(UTC), next(_counter))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


@dataclass
class FakeMember:
    """A server member as tests describe them; `payload()` is the interaction's `member`."""

    id: int
    name: str
    roles: list[int] = field(default_factory=list)
    joined_at: datetime = field(default_factory=lambda: datetime(2020, 1, 1, tzinfo=UTC))
    permissions: int = BASIC_PERMISSIONS
    locale: str = "en-US"  # the member's client language, sent with each interaction

    def user(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.name,
            "global_name": self.name,
            "discriminator": "0",
            "avatar": None,
            "bot": False,
            "public_flags": 0,
        }

    def payload(self) -> dict[str, Any]:
        return {
            "user": self.user(),
            "roles": [str(r) for r in self.roles],
            "joined_at": iso(self.joined_at),
            "nick": None,
            "avatar": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "premium_since": None,
            "communication_disabled_until": None,
            "permissions": str(self.permissions),
        }


@dataclass
class Reply:
    """What a member saw in answer to one interaction."""

    kind: str  # message, autocomplete, update, modal
    data: dict[str, Any]
    ephemeral: bool

    @property
    def content(self) -> str:
        return str(self.data.get("content") or "")

    @property
    def embeds(self) -> list[dict[str, Any]]:
        return list(self.data.get("embeds") or [])

    @property
    def components(self) -> list[dict[str, Any]]:
        return list(self.data.get("components") or [])

    def buttons(self) -> list[dict[str, Any]]:
        """Every button or select in the reply's action rows."""
        return [c for row in self.components for c in row.get("components", [])]

    @property
    def choices(self) -> list[dict[str, Any]]:
        return list(self.data.get("choices") or [])


class _Conversation:
    """Everything the bot sent for one interaction token, in order."""

    def __init__(self) -> None:
        self.items: list[tuple[str, dict[str, Any]]] = []
        self.times: list[float] = []
        self.dispatched_at: float | None = None
        self.changed = asyncio.Condition()

    async def add(self, kind: str, data: dict[str, Any]) -> None:
        async with self.changed:
            self.items.append((kind, data))
            self.times.append(asyncio.get_running_loop().time())
            self.changed.notify_all()


class FakeDiscord:
    """The server. `await start()`, point the bot at `api_url`, then `interact(...)`."""

    def __init__(self) -> None:
        now = datetime.now(UTC)
        self.application_id = snowflake_at(now, 1)
        self.bot_id = self.application_id
        self.owner_id = snowflake_at(now, 2)
        self.guild_id = snowflake_at(now, 3)
        self.channel_id = snowflake_at(now, 4)
        self.token = "fake-token-" + secrets.token_hex(4)
        self.roles: dict[int, str] = {}
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.conversations: dict[str, _Conversation] = defaultdict(_Conversation)
        self.channel_messages: dict[int, dict[int, dict[str, Any]]] = defaultdict(dict)
        self.message_edits = asyncio.Condition()
        self.dm_channels: dict[int, int] = {}
        self.dms: dict[int, list[str]] = defaultdict(list)
        self.dm_sent = asyncio.Condition()
        self.closed_dms: set[int] = set()
        self.refused_dms: dict[int, int] = defaultdict(int)
        self.attachments: dict[str, bytes] = {}
        self.identified: dict[str, Any] | None = None
        # OAuth2 (Sign in with Discord)
        self.client_id = str(self.application_id)
        self.client_secret = "fake-secret-" + secrets.token_hex(8)
        self.authorizer: FakeMember | None = None
        self.guild_members: dict[int, FakeMember] = {}
        self.authorizations: list[dict[str, str]] = []
        self.token_refusals: list[str] = []
        self._grants: dict[str, dict[str, Any]] = {}
        self._bearers: dict[str, tuple[FakeMember, set[str]]] = {}
        self.unknown_routes: list[str] = []
        self._sockets: list[web.WebSocketResponse] = []
        # how each gateway connection ended: the close code the bot sent (1000: a clean close),
        # 1006 when the connection dropped without a close frame
        self.close_codes: list[int | None] = []
        self.followup_delay = 0.0  # seconds before a follow-up message is accepted
        self._seq = 0
        self._connected = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/v10"

    async def start(self) -> None:
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/attachments/{key}/{filename}", self._attachment)
        app.router.add_route("*", "/api/v10/{path:.*}", self._rest)
        app.router.add_get("/oauth2/authorize", self._authorize)
        app.router.add_post("/api/oauth2/token", self._token)
        app.router.add_get("/api/users/@me", self._oauth_user)
        app.router.add_get("/api/users/@me/guilds/{guild_id}/member", self._oauth_member)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def add_role(self, name: str) -> int:
        role_id = new_id()
        self.roles[role_id] = name
        return role_id

    def add_attachment(self, filename: str, data: bytes) -> dict[str, Any]:
        """Host a file like Discord's CDN does; returns the attachment object for `resolved`."""
        key = secrets.token_hex(6)
        self.attachments[key] = data
        return {
            "id": str(new_id()),
            "filename": filename,
            "size": len(data),
            "url": f"{self.base_url}/attachments/{key}/{filename}",
            "proxy_url": f"{self.base_url}/attachments/{key}/{filename}",
            "content_type": "text/csv" if filename.endswith(".csv") else "text/plain",
        }

    # -- gateway -----------------------------------------------------------------------------

    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": str(self.bot_id),
            "username": "codedrop",
            "discriminator": "0",
            "global_name": None,
            "avatar": None,
            "bot": True,
            "verified": True,
            "flags": 0,
            "mfa_enabled": False,
        }

    def _guild(self) -> dict[str, Any]:
        everyone = {
            "id": str(self.guild_id),
            "name": "@everyone",
            "permissions": str(BASIC_PERMISSIONS),
            "position": 0,
            "color": 0,
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }
        roles = [everyone] + [
            dict(everyone, id=str(rid), name=name, position=i + 1)
            for i, (rid, name) in enumerate(self.roles.items())
        ]
        return {
            "id": str(self.guild_id),
            "name": "Fake Guild",
            "icon": None,
            "owner_id": str(self.owner_id),
            "roles": roles,
            "channels": [
                {
                    "id": str(self.channel_id),
                    "type": 0,
                    "name": "drops",
                    "position": 0,
                    "permission_overwrites": [],
                    "nsfw": False,
                    "parent_id": None,
                    "topic": None,
                }
            ],
            "members": [
                {
                    "user": self._bot_user(),
                    "roles": [],
                    "joined_at": iso(datetime.now(UTC)),
                    "deaf": False,
                    "mute": False,
                    "flags": 0,
                }
            ],
            "member_count": 2,
            "emojis": [],
            "stickers": [],
            "features": [],
            "threads": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "voice_states": [],
            "presences": [],
            "unavailable": False,
            "large": False,
            "joined_at": iso(datetime.now(UTC)),
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "system_channel_flags": 0,
        }

    async def _send(self, ws: web.WebSocketResponse, op: int, data: Any, event: str | None) -> None:
        frame: dict[str, Any] = {"op": op, "d": data, "s": None, "t": event}
        if op == 0:
            self._seq += 1
            frame["s"] = self._seq
        await ws.send_str(json.dumps(frame))

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await self._send(ws, 10, {"heartbeat_interval": 41_250}, None)
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                op = frame.get("op")
                if op == 1:
                    await self._send(ws, 11, None, None)
                elif op == 2:
                    await self._identify(ws, frame["d"])
                elif op == 6:
                    await self._send(ws, 0, {}, "RESUMED")
        finally:
            self.close_codes.append(ws.close_code)
            async with self._connected:
                if ws in self._sockets:
                    self._sockets.remove(ws)
        return ws

    async def _identify(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> None:
        if data.get("token") != self.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return
        self.identified = data
        await self._send(
            ws,
            0,
            {
                "v": 10,
                "user": self._bot_user(),
                "guilds": [{"id": str(self.guild_id), "unavailable": True}],
                "session_id": secrets.token_hex(16),
                "resume_gateway_url": f"ws://127.0.0.1:{self.port}/gateway",
                "shard": [0, 1],
                "application": {"id": str(self.application_id), "flags": 0},
            },
            "READY",
        )
        await self._send(ws, 0, self._guild(), "GUILD_CREATE")
        async with self._connected:
            self._sockets.append(ws)
            self._connected.notify_all()

    async def wait_connected(self, timeout: float = 10) -> None:
        """Until a bot has identified and received its guild."""
        async with asyncio.timeout(timeout), self._connected:
            await self._connected.wait_for(lambda: bool(self._sockets))

    async def disconnect_all(self) -> None:
        for ws in list(self._sockets):
            await ws.close()

    # -- interactions ------------------------------------------------------------------------

    def _base(self, itype: int, member: FakeMember | None, data: dict[str, Any]) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": str(new_id()),
            "application_id": str(self.application_id),
            "type": itype,
            "data": data,
            "token": "itk_" + secrets.token_urlsafe(24),
            "version": 1,
            "locale": member.locale if member is not None else "en-US",
            "app_permissions": str(BASIC_PERMISSIONS | MANAGE_GUILD),
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(self.guild_id)},
            "attachment_size_limit": 8 * 1024 * 1024,
        }
        if member is not None:
            payload.update(
                guild_id=str(self.guild_id),
                guild_locale="en-US",
                channel_id=str(self.channel_id),
                channel={"id": str(self.channel_id), "type": 0, "guild_id": str(self.guild_id)},
                member=member.payload(),
                context=0,
            )
        return payload

    def command(
        self,
        member: FakeMember,
        name: str,
        options: list[dict[str, Any]] | None = None,
        *,
        resolved: dict[str, Any] | None = None,
        autocomplete: bool = False,
    ) -> dict[str, Any]:
        """An APPLICATION_COMMAND (or, with `autocomplete`, its AUTOCOMPLETE) interaction."""
        scope = self._command_scope(name)
        data: dict[str, Any] = {
            "id": scope["id"],
            "name": name,
            "type": 1,
            "options": options or [],
            "guild_id": str(self.guild_id),
        }
        if resolved:
            data["resolved"] = resolved
        return self._base(4 if autocomplete else 2, member, data)

    def _command_scope(self, name: str) -> dict[str, Any]:
        for registered in self.commands.values():
            for cmd in registered:
                if cmd["name"] == name:
                    return cmd
        raise KeyError(f"the bot did not register /{name}; it has: {self.command_names()}")

    def command_names(self) -> list[str]:
        return sorted({c["name"] for cmds in self.commands.values() for c in cmds})

    def component(
        self,
        member: FakeMember,
        custom_id: str,
        message: dict[str, Any],
        *,
        values: list[str] | None = None,
        ephemeral_message: bool = False,
    ) -> dict[str, Any]:
        """A MESSAGE_COMPONENT interaction: a button press, or a select when `values` is given."""
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": 2}
        if values is not None:
            data.update(component_type=3, values=values)
        msg = dict(message)
        if ephemeral_message:
            msg["flags"] = EPHEMERAL
        return self._base(3, member, data) | {"message": msg}

    async def dispatch(self, payload: dict[str, Any]) -> None:
        """Send one INTERACTION_CREATE to the connected bot."""
        if not self._sockets:
            raise RuntimeError("no bot is connected to the gateway")
        self.conversations[payload["token"]].dispatched_at = asyncio.get_running_loop().time()
        await self._send(self._sockets[-1], 0, payload, "INTERACTION_CREATE")

    async def interact(self, payload: dict[str, Any], timeout: float = 15) -> Reply:
        """Dispatch an interaction and wait for what the member finally sees."""
        await self.dispatch(payload)
        return await self.reply_to(payload, timeout=timeout)

    async def reply_to(self, payload: dict[str, Any], timeout: float = 15) -> Reply:
        """The answer to an interaction: its callback, or after a defer, the follow-up/edit."""
        conv = self.conversations[payload["token"]]

        def answered() -> bool:
            if not conv.items:
                return False
            _, data = conv.items[0]
            if data["type"] in (DEFERRED_MESSAGE, DEFERRED_UPDATE):
                return len(conv.items) > 1
            return True

        async with asyncio.timeout(timeout), conv.changed:
            await conv.changed.wait_for(answered)
        _, first = conv.items[0]
        first_data = first.get("data") or {}
        if first["type"] in (DEFERRED_MESSAGE, DEFERRED_UPDATE):
            _, data = conv.items[1]
            flags = int(first_data.get("flags") or 0) | int(data.get("flags") or 0)
            return Reply(
                "update" if first["type"] == DEFERRED_UPDATE else "message",
                data,
                bool(flags & EPHEMERAL),
            )
        kinds = {MESSAGE: "message", UPDATE_MESSAGE: "update", AUTOCOMPLETE: "autocomplete"}
        return Reply(
            kinds.get(first["type"], "modal"),
            first_data,
            bool(int(first_data.get("flags") or 0) & EPHEMERAL),
        )

    def acknowledged_after(self, payload: dict[str, Any]) -> float:
        """Seconds from dispatching an interaction to the bot's callback (Discord allows 3)."""
        conv = self.conversations[payload["token"]]
        assert conv.dispatched_at is not None and conv.times, "not dispatched or not answered"
        return conv.times[0] - conv.dispatched_at

    def callback_of(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        """The raw interaction callback the bot sent (type and data), if any."""
        items = self.conversations[payload["token"]].items
        return items[0][1] if items else None

    # -- REST --------------------------------------------------------------------------------

    def _message(
        self, channel_id: int, body: dict[str, Any], msg_id: int | None = None
    ) -> dict[str, Any]:
        return {
            "id": str(msg_id or new_id()),
            "channel_id": str(channel_id),
            "type": 0,
            "content": body.get("content") or "",
            "author": self._bot_user(),
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "attachments": [],
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": False,
            "timestamp": iso(datetime.now(UTC)),
            "edited_timestamp": None,
            "flags": int(body.get("flags") or 0),
            "application_id": str(self.application_id),
            "webhook_id": None,
        }

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            data: dict[str, Any] = await request.json()
            return data
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            raw = form.get("payload_json")
            return json.loads(str(raw)) if raw else {}
        return {}

    @staticmethod
    def _json(data: Any, status: int = 200) -> web.Response:
        # discord.py parses JSON only for exactly `application/json`
        return web.Response(
            status=status, body=json.dumps(data).encode(), content_type="application/json"
        )

    def _error(self, status: int, code: int, message: str) -> web.Response:
        return self._json({"message": message, "code": code}, status)

    async def _attachment(self, request: web.Request) -> web.Response:
        data = self.attachments.get(request.match_info["key"])
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type="application/octet-stream")

    # -- OAuth2 ------------------------------------------------------------------------------

    async def _authorize(self, request: web.Request) -> web.Response:
        q = request.query
        self.authorizations.append(dict(q))
        if q.get("client_id") != self.client_id or q.get("response_type") != "code":
            return web.Response(status=400, text="invalid client_id or response_type")
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return web.Response(status=400, text="PKCE (S256) required")
        redirect = q.get("redirect_uri", "")
        back: dict[str, str] = {"state": q.get("state", "")}
        if self.authorizer is None:
            back["error"] = "access_denied"
        else:
            code = secrets.token_urlsafe(16)
            self._grants[code] = {
                "member": self.authorizer,
                "challenge": q["code_challenge"],
                "redirect_uri": redirect,
                "scopes": set(q.get("scope", "").split()),
            }
            back["code"] = code
        raise web.HTTPFound(redirect + ("&" if "?" in redirect else "?") + urlencode(back))

    def _oauth_error(self, why: str) -> web.Response:
        self.token_refusals.append(why)
        return self._json({"error": "invalid_grant", "error_description": why}, 400)

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        try:
            auth = BasicAuth.decode(request.headers.get("Authorization", ""))
            client = (auth.login, auth.password)
        except ValueError:
            client = (str(form.get("client_id", "")), str(form.get("client_secret", "")))
        if client != (self.client_id, self.client_secret):
            self.token_refusals.append("client")
            return self._json({"error": "invalid_client"}, 401)
        if form.get("grant_type") != "authorization_code":
            return self._oauth_error("grant_type")
        grant = self._grants.pop(str(form.get("code", "")), None)  # a code works once
        if grant is None:
            return self._oauth_error("code")
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return self._oauth_error("redirect_uri")
        verifier = str(form.get("code_verifier", "")).encode()
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
        if not verifier or challenge.decode() != grant["challenge"]:
            return self._oauth_error("code_verifier")
        token = secrets.token_urlsafe(24)
        self._bearers[token] = (grant["member"], grant["scopes"])
        return self._json(
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": 604800,
                "refresh_token": secrets.token_urlsafe(24),
                "scope": " ".join(sorted(grant["scopes"])),
            }
        )

    def _bearer(self, request: web.Request) -> tuple[FakeMember, set[str]] | None:
        header = request.headers.get("Authorization", "")
        return (
            self._bearers.get(header.removeprefix("Bearer "))
            if header.startswith("Bearer ")
            else None
        )

    async def _oauth_user(self, request: web.Request) -> web.Response:
        found = self._bearer(request)
        if found is None:
            return self._error(401, 0, "401: Unauthorized")
        return self._json(found[0].user())

    async def _oauth_member(self, request: web.Request) -> web.Response:
        found = self._bearer(request)
        if found is None:
            return self._error(401, 0, "401: Unauthorized")
        user, scopes = found
        if "guilds.members.read" not in scopes:
            return self._error(403, 50001, "Missing Access")
        member = self.guild_members.get(user.id)
        if request.match_info["guild_id"] != str(self.guild_id) or member is None:
            return self._error(404, 10004, "Unknown Guild")
        return self._json(member.payload())

    async def _rest(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") not in (f"Bot {self.token}", None):
            return self._error(401, 0, "401: Unauthorized")
        path = "/" + request.match_info["path"]
        parts = path.strip("/").split("/")
        method = request.method
        body = await self._body(request) if method in ("POST", "PUT", "PATCH") else {}

        if path == "/users/@me" and method == "GET":
            return self._json(self._bot_user())
        if path == "/oauth2/applications/@me":
            return self._json(
                {
                    "id": str(self.application_id),
                    "name": "codedrop",
                    "description": "",
                    "icon": None,
                    "bot_public": False,
                    "bot_require_code_grant": False,
                    "owner": {
                        "id": str(self.owner_id),
                        "username": "owner",
                        "discriminator": "0",
                        "avatar": None,
                    },
                    "team": None,
                    "verify_key": "0" * 64,
                    "flags": 0,
                    "summary": "",
                }
            )
        if path == "/gateway/bot":
            return self._json(
                {
                    "url": f"ws://127.0.0.1:{self.port}/gateway",
                    "shards": 1,
                    "session_start_limit": {
                        "total": 1000,
                        "remaining": 999,
                        "reset_after": 0,
                        "max_concurrency": 1,
                    },
                }
            )
        if parts[0] == "applications" and parts[-1] == "commands" and method == "PUT":
            scope = parts[3] if len(parts) == 5 else "global"
            registered = [
                dict(
                    cmd,
                    id=str(new_id()),
                    application_id=str(self.application_id),
                    version=str(new_id()),
                    **({"guild_id": scope} if scope != "global" else {}),
                )
                for cmd in body  # type: ignore[attr-defined]
            ]
            self.commands[scope] = registered
            return self._json(registered)
        if parts[0] == "interactions" and parts[-1] == "callback":
            interaction_id, token = parts[1], parts[2]
            await self.conversations[token].add("callback", body)
            data = body.get("data") or {}
            return self._json(
                {
                    "interaction": {
                        "id": interaction_id,
                        "type": 2,
                        "response_message_loading": body["type"] == DEFERRED_MESSAGE,
                        "response_message_ephemeral": bool(int(data.get("flags") or 0) & EPHEMERAL),
                    },
                    "resource": {"type": body["type"]},
                }
            )
        if parts[0] == "webhooks":
            token = parts[2]
            conv = self.conversations[token]
            if method == "POST" and len(parts) == 3:
                if self.followup_delay:
                    await asyncio.sleep(self.followup_delay)  # a slow Discord: work stays in flight
                await conv.add("followup", body)
                return self._json(self._message(self.channel_id, body))
            if method == "PATCH" and parts[3] == "messages":
                await conv.add("edit", body)
                return self._json(self._message(self.channel_id, body))
            if method == "GET":
                return self._json(self._message(self.channel_id, {}))
            if method == "DELETE":
                return web.Response(status=204)
        if path == "/users/@me/channels" and method == "POST":
            user_id = int(body["recipient_id"])
            channel_id = self.dm_channels.setdefault(user_id, new_id())
            return self._json(
                {
                    "id": str(channel_id),
                    "type": 1,
                    "last_message_id": None,
                    "recipients": [
                        {"id": str(user_id), "username": "m", "discriminator": "0", "avatar": None}
                    ],
                }
            )
        if parts[0] == "channels" and len(parts) >= 3 and parts[2] == "messages":
            channel_id = int(parts[1])
            dm_user = next((u for u, c in self.dm_channels.items() if c == channel_id), None)
            if method == "POST" and len(parts) == 3:
                if dm_user is not None:
                    if dm_user in self.closed_dms:
                        async with self.dm_sent:
                            self.refused_dms[dm_user] += 1
                            self.dm_sent.notify_all()
                        return self._error(403, 50007, "Cannot send messages to this user")
                    async with self.dm_sent:
                        self.dms[dm_user].append(body.get("content") or "")
                        self.dm_sent.notify_all()
                    return self._json(self._message(channel_id, body))
                msg = self._message(channel_id, body)
                async with self.message_edits:
                    self.channel_messages[channel_id][int(msg["id"])] = msg
                    self.message_edits.notify_all()
                return self._json(msg)
            if method == "PATCH" and len(parts) == 4:
                stored = self.channel_messages[channel_id].get(int(parts[3]))
                if stored is None:
                    return self._error(404, 10008, "Unknown Message")
                async with self.message_edits:
                    stored.update(
                        {k: v for k, v in body.items() if k in ("content", "embeds", "components")}
                    )
                    stored["edited_timestamp"] = iso(datetime.now(UTC))
                    self.message_edits.notify_all()
                return self._json(stored)
        self.unknown_routes.append(f"{method} {path}")
        log.warning("fake discord: unknown route %s %s", method, path)
        return self._error(404, 0, "404: Not Found")

    # -- waiting helpers ---------------------------------------------------------------------

    async def wait_dm(self, user_id: int, count: int = 1, timeout: float = 10) -> list[str]:
        async with asyncio.timeout(timeout), self.dm_sent:
            await self.dm_sent.wait_for(lambda: len(self.dms[user_id]) >= count)
        return list(self.dms[user_id])

    async def wait_refused_dm(self, user_id: int, timeout: float = 10) -> None:
        """Until the bot tried to DM a user whose DMs are closed (and got error 50007)."""
        async with asyncio.timeout(timeout), self.dm_sent:
            await self.dm_sent.wait_for(lambda: self.refused_dms[user_id] > 0)

    async def wait_message(self, predicate: Any, timeout: float = 10) -> dict[str, Any]:
        """Until a channel message satisfies `predicate` (posted or edited)."""

        def found() -> dict[str, Any] | None:
            for messages in self.channel_messages.values():
                for msg in messages.values():
                    if predicate(msg):
                        return msg
            return None

        async with asyncio.timeout(timeout), self.message_edits:
            await self.message_edits.wait_for(lambda: found() is not None)
        result = found()
        assert result is not None
        return result
