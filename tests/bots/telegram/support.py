"""Small readers for what the bot sent: buttons, codes."""

from __future__ import annotations

import re
from typing import Any

CODE = re.compile(r"<code>([^<]+)</code>")


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    markup = message.get("reply_markup") or {}
    return [b for row in markup.get("inline_keyboard", []) for b in row]


def callback(message: dict[str, Any], label: str | None = None) -> str:
    """The callback data of the (only, or labelled) callback button of a message."""
    found = [
        b["callback_data"]
        for b in buttons(message)
        if "callback_data" in b and (label is None or b["text"] == label)
    ]
    assert len(found) == 1, f"expected one button {label!r}, got {buttons(message)}"
    return str(found[0])


def code_in(text: str) -> str | None:
    match = CODE.search(text)
    return match.group(1) if match else None
