"""Every text key the bots name exists, so no reply fails on a missing sentence."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bots import texts as shared
from bots.discord import texts as discord_texts
from bots.telegram import texts as telegram_texts

ROOT = Path(__file__).resolve().parents[2] / "bots"
# text("key" / label("key" / plain("key" / t("key" / command("key", literal keys only
KEY = re.compile(r"\b(?:text|label|plain|t|command)\(\s*\"([a-z_]+(?:\.[a-z_]+)+)\"")


def keys_used(package: str) -> set[str]:
    found: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        found |= set(KEY.findall(path.read_text()))
    return found


@pytest.mark.parametrize(
    ("package", "own"),
    [("telegram", telegram_texts.TEXTS["en"]), ("discord", discord_texts.TEXTS["en"])],
)
def test_every_key_a_bot_names_is_in_its_table_or_the_shared_one(
    package: str, own: dict[str, str]
) -> None:
    used = keys_used(package)
    assert len(used) > 20, "the key pattern no longer finds the bot's texts"
    missing = sorted(k for k in used if k not in own and k not in shared.TEXTS["en"])
    assert missing == []


def test_a_discord_text_in_another_language_is_used_for_that_language_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(
        discord_texts.TEXTS, "de", {"drop.no_channel": "Hier kann ich nicht posten."}
    )
    assert discord_texts.text("drop.no_channel", "de") == "Hier kann ich nicht posten."
    assert discord_texts.text("drop.no_channel", "en") == "I can't post in this channel."
    # a sentence not translated yet falls back to English, a shared one to the shared table
    assert discord_texts.text("done", "de", campaign="X") == "Done: X"
    assert discord_texts.text("waitlist.already", "de") == "You're already on the list."
