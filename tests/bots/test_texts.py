"""Every text key the bots name exists, so no reply fails on a missing sentence; values are
formatted and escaped the same way in every language."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bots import texts as shared
from bots.discord import texts as discord_texts
from bots.i18n import LANGUAGES, Catalogue
from bots.telegram import texts as telegram_texts
from domain.campaign_state import Action, TransitionRefused, next_status
from domain.values import CampaignStatus

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
    [("telegram", telegram_texts.CATALOGUE), ("discord", discord_texts.CATALOGUE)],
)
def test_every_key_a_bot_names_is_in_its_catalogue_or_the_shared_one(
    package: str, own: Catalogue
) -> None:
    used = keys_used(package)
    assert len(used) > 20, "the key pattern no longer finds the bot's texts"
    missing = sorted(k for k in used if k not in own and k not in shared.CATALOGUE)
    assert missing == []


def test_a_discord_text_is_in_the_members_language_and_english_elsewhere() -> None:
    assert discord_texts.text("drop.no_channel", "de") == "In diesem Kanal kann ich nicht posten."
    assert discord_texts.text("drop.no_channel", "en") == "I can't post in this channel."
    assert discord_texts.text("drop.no_channel", "xx") == "I can't post in this channel."
    # a shared sentence comes from the shared catalogue, in the same language
    assert discord_texts.text("waitlist.already", "de") == "Du stehst bereits auf der Liste."


def test_numbers_and_dates_follow_the_language_and_codes_stay_as_they_are() -> None:
    assert shared.t("card.codes_left", "en", left=1000) == "1,000 codes left"
    assert shared.t("card.codes_left", "de", left=1000) == "1.000 Codes übrig"
    opens = datetime(2026, 12, 2, 18, 30, tzinfo=UTC)
    assert shared.t("card.not_started", "en", starts_at=opens) == "Opens 2026-12-02 18:30 UTC."
    assert (
        shared.t("card.not_started", "de", starts_at=opens) == "Startet am 02.12.2026, 18:30 UTC."
    )
    assert shared.t("card.not_started", "ja", starts_at=opens) == "開始: 2026/12/02 18:30 UTC"
    code = "0012-3456-ABCD"  # looks like a number, is not one
    for lang in LANGUAGES:
        assert code in shared.t("mycodes.line", lang, campaign="C", code=code, when=opens.date())


def test_telegram_escapes_values_in_every_language_and_keeps_raw_markup() -> None:
    for lang in LANGUAGES:
        line = telegram_texts.text(
            "campaigns.line", lang, name="<b>", status="active", available=1, total=2, id="x"
        )
        assert "<b>&lt;b&gt;</b>" in line
    raw = telegram_texts.Raw("<code>A&amp;B</code>")
    assert telegram_texts.text("claim.code", "ru", code=raw) == "<code><code>A&amp;B</code></code>"


def test_a_refused_status_move_names_status_and_actions_in_the_owners_language() -> None:
    with pytest.raises(TransitionRefused) as refused:
        next_status(CampaignStatus.ACTIVE, Action.ARCHIVE)
    assert shared.refusal(refused.value, "en") == (
        "This campaign is active, so it cannot archive now. What you can do: pause, end."
    )
    assert shared.refusal(refused.value, "de") == (
        "Diese Kampagne ist im Zustand „aktiv“, daher ist „archivieren“ gerade nicht möglich."
        " Möglich ist: pausieren, beenden."
    )
    assert shared.state_label("sold_out", "ja") == "配布終了"
    assert shared.state_label("sold_out", "en") == "Sold out"
