"""The `Notifier` interface: how jobs and events reach a developer's or member's chat.

The bots implement it (a Telegram sender, a Discord DM sender); the composition root hands
them to whoever needs to send (the scheduler's reports, event notices). `provider` is
`telegram` or `discord`; `chat_id` is what `developers.chats_of` returns.
"""

from __future__ import annotations

from typing import Protocol


class Notifier(Protocol):
    provider: str

    async def send(self, chat_id: str, text: str) -> bool:
        """Deliver a plain-text message; False when the chat cannot be reached (blocked, closed DM)."""
        ...
