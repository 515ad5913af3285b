"""Every sentence the Discord bot shows: the `discord` message catalogue, by key.

Discord-only wording (Discord markdown, embeds, slash-command descriptions) lives in
`bots/locales/<locale>/LC_MESSAGES/discord.po`; everything both bots say (claims, refusals,
waitlist, owner notices) comes from `bots.texts`, which `text()` falls back to. Replies take
the member's language from the interaction (`mapping.lang_of`); slash-command, option and
choice descriptions are `locale_str`s carrying their key (`command()`), which
`CatalogueTranslator` (registered with `tree.set_translator`) translates for every client
language Discord asks about. The same role as `bots/telegram/texts.py`.
"""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.app_commands import locale_str

from bots import texts as shared
from bots.i18n import DEFAULT, Catalogue, negotiate

# the `discord` gettext domain: bots/locales/<locale>/LC_MESSAGES/discord.po
CATALOGUE = Catalogue("discord")


def text(key: str, lang: str | None = None, /, **values: Any) -> str:
    """A message in the member's language: a Discord key, else a shared one (English fallback)."""
    if key in CATALOGUE:
        return CATALOGUE.render(key, lang, **values)
    return shared.t(key, lang, **values)


def command(key: str) -> locale_str:
    """A slash-command text: the English wording, carrying its key for `CatalogueTranslator`."""
    return locale_str(CATALOGUE.gettext(key, DEFAULT), key=key)


class CatalogueTranslator(app_commands.Translator):
    """Translates command, option and choice texts made by `command()` from the catalogue.

    Discord shows a member the texts of their client's language; a locale the catalogue does
    not translate (or English itself) gets None, so Discord shows the English default.
    Command and option NAMES stay English on purpose: every text, the README and other members
    name `/claim` and `/campaign create`, whatever language they read.
    """

    async def translate(
        self,
        string: locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        key = string.extras.get("key")
        lang = negotiate(locale.value)
        if not isinstance(key, str) or key not in CATALOGUE or lang == DEFAULT:
            return None
        translated = CATALOGUE.gettext(key, lang)
        return translated if translated != string.message else None
