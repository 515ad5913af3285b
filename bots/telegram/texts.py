"""Every sentence the Telegram bot sends, as HTML: the `telegram` message catalogue.

Telegram-only wording lives in `bots/locales/<locale>/LC_MESSAGES/telegram.po`; everything
both bots say (claims, refusals, waitlist, owner notices) comes from `bots.texts`. `lang` is
the locale `replies.Locales` (aiogram's i18n middleware) chose for the user. `text()` formats
numbers and dates for that locale and escapes every value it inserts, so a campaign named
`<b>` cannot break a message; pass `Raw(...)` for markup built on purpose.
"""

from __future__ import annotations

import html
from typing import Any

from bots import texts as shared
from bots.i18n import Catalogue, localized
from domain.errors import DomainError

# the `telegram` gettext domain: bots/locales/<locale>/LC_MESSAGES/telegram.po
CATALOGUE = Catalogue("telegram")


class Raw(str):
    """Markup built on purpose: inserted into a message without escaping."""

    __slots__ = ()


def _escape(value: Any) -> Any:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, str):
        return html.escape(value, quote=False)
    return value


def _template(key: str, lang: str | None) -> str:
    if key in CATALOGUE:
        return CATALOGUE.gettext(key, lang)
    # the shared texts are plain text: escape them to embed in HTML
    return html.escape(shared.CATALOGUE.gettext(key, lang), quote=False)


def text(key: str, lang: str | None = None, /, **values: Any) -> str:
    """An HTML message in the user's language, every inserted value escaped."""
    template = _template(key, lang)
    formatted = localized(values, lang)
    if key.startswith("command."):  # command descriptions are plain text (setMyCommands)
        return template.format(**formatted)
    return template.format(**{k: _escape(v) for k, v in formatted.items()})


def label(key: str, lang: str | None = None, /, **values: Any) -> str:
    """Button text (plain, never HTML): a Telegram key or a shared one."""
    if key in CATALOGUE:
        return CATALOGUE.render(key, lang, **values)
    return shared.t(key, lang, **values)


def plain(key: str, lang: str | None = None, /, **values: Any) -> str:
    """A plain-text message (notifications sent without a parse mode)."""
    return shared.t(key, lang, **values)


def refusal(error: DomainError, lang: str | None = None) -> str:
    """A domain refusal as an HTML-safe sentence (the wording is shared with Discord)."""
    return html.escape(shared.refusal(error, lang), quote=False)
