"""Telegram's webhook as an API route: `POST /telegram/webhook`.

When `CODEDROP_TELEGRAM_WEBHOOK_URL` is set, Telegram sends each update to this route instead
of being long-polled. The route checks the secret token Telegram echoes in
`X-Telegram-Bot-Api-Secret-Token` (through `TelegramFront.process_webhook`) and answers at
once; the update is handled in the background. The `codedrop` command only wires it: the API
part of a process that also runs the Telegram bot includes this router.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bots.telegram.app import TelegramFront

PATH = "/telegram/webhook"


def webhook_router(front: TelegramFront) -> APIRouter:
    """A router serving Telegram's webhook calls to `front` (kept out of the API docs)."""
    router = APIRouter()

    @router.post(PATH, include_in_schema=False)
    async def telegram_webhook(request: Request) -> JSONResponse:
        """Hand one update to the bot: 400 for a body that is not JSON, 403 for a wrong
        secret token."""
        try:
            payload = await request.json()
        except ValueError:
            return JSONResponse({"ok": False}, status_code=400)
        if not isinstance(payload, dict):
            return JSONResponse({"ok": False}, status_code=400)
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
        ok = await front.process_webhook(payload, secret)
        return JSONResponse({"ok": ok}, status_code=200 if ok else 403)

    return router
