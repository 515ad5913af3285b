"""A local stand-in for telegram.org's Login Widget: its script and its signed redirect.

`/js/telegram-widget.js` is what a page embeds (`data-telegram-login`, `data-auth-url`): it
puts a "Log in with Telegram" button where the script tag is. Pressing it goes to `/auth`,
which, as `user` (None: the member cancels and stays), redirects the browser to the auth URL
with `id`, `first_name`, `username`, `auth_date` and `hash` signed as Telegram signs them:
HMAC-SHA256 keyed with SHA256(bot token) over the sorted `key=value` lines.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

WIDGET_JS = """
"use strict";
(function () {
  const tag = document.currentScript;
  const origin = new URL(tag.src).origin;
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = "Log in with Telegram";
  button.dataset.testid = "telegram-login";
  button.addEventListener("click", () => {
    const query = new URLSearchParams({
      bot: tag.dataset.telegramLogin || "",
      return_to: tag.dataset.authUrl || window.location.href,
    });
    window.location.href = origin + "/auth?" + query.toString();
  });
  tag.after(button);
})();
"""


def sign(fields: dict[str, Any], bot_token: str) -> dict[str, str]:
    """Login Widget fields with the `hash` Telegram would give them."""
    data = {k: str(v) for k, v in fields.items() if v is not None}
    check = "\n".join(f"{k}={data[k]}" for k in sorted(data))
    key = hashlib.sha256(bot_token.encode()).digest()
    data["hash"] = hmac.new(key, check.encode(), hashlib.sha256).hexdigest()
    return data


class FakeTelegramLogin:
    """The server. `await start()`, set `CODEDROP_TELEGRAM_LOGIN_URL` to `base_url`."""

    def __init__(self, bot_token: str, bot_username: str) -> None:
        self.bot_token = bot_token
        self.bot_username = bot_username
        self.user: dict[str, Any] | None = None
        self.widget_loads = 0
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fields_for(self, user: dict[str, Any], *, auth_date: int | None = None) -> dict[str, str]:
        """What the widget sends for `user` (id, first_name, username...) signed at `auth_date`."""
        return sign({**user, "auth_date": auth_date or int(time.time())}, self.bot_token)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/js/telegram-widget.js", self._widget)
        app.router.add_get("/auth", self._auth)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _widget(self, request: web.Request) -> web.Response:
        self.widget_loads += 1
        return web.Response(text=WIDGET_JS, content_type="application/javascript")

    async def _auth(self, request: web.Request) -> web.Response:
        if request.query.get("bot") != self.bot_username:
            return web.Response(status=400, text="Bot domain invalid")
        if self.user is None:
            return web.Response(text="cancelled")
        target = request.query["return_to"]
        query = urlencode(self.fields_for(self.user))
        raise web.HTTPFound(target + ("&" if "?" in target else "?") + query)
