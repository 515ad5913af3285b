"""The claim page's languages: a gettext catalogue per locale, chosen per request.

Every sentence a member sees on `/c/{campaign}` (the card, the refusals, the waitlist pages,
the strings `claim.js` shows) is a message KEY (`claim.get`, `refusal.sold_out`) in the `web`
gettext domain, `api/web/locales/<locale>/LC_MESSAGES/web.po`, as in the bots' catalogues: the
key is the msgid, English holds the English wording and every other language falls back to it.
The `.po` files are the only source; each is compiled in memory with Babel (`read_po`, then
`write_mo`) when first used and loaded as `babel.support.Translations`, so no `.mo` can be
stale. `tests/web/test_claim_page_i18n.py` refuses a missing key, a changed placeholder, a
fuzzy entry, a committed `.mo`, and a key the templates use (found by Babel's extractor with
`babel.cfg`) that English lacks.

The language: `?lang=xx` (the page's switcher, remembered in a cookie), else that cookie, else
`Accept-Language` negotiated by Babel (`negotiate_locale`), else English. Templates call
`_("key", name=value)` (Jinja2's `i18n` extension with new-style gettext); the per-request
`gettext` in the template context inserts the values with numbers and dates formatted for the
locale by Babel. Codes are strings and are inserted as they are.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from babel import Locale
from babel.core import negotiate_locale
from babel.dates import format_date
from babel.numbers import format_decimal
from babel.support import Translations
from fastapi import Request
from markupsafe import Markup, escape

from domain import locales
from domain.locales import DEFAULT, LANGUAGES, compile_po

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
DOMAIN = "web"
LANG_COOKIE = "cd_lang"
LANG_MAX_AGE = 365 * 24 * 3600
_TAGS = {lang.replace("_", "-"): lang for lang in LANGUAGES}  # BCP 47 tag -> locale


def po_path(locale: str) -> Path:
    return LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def _compile(locale: str) -> Translations:
    return compile_po(po_path(locale), locale, DOMAIN)


_loaded: dict[str, Translations] = {}
_lock = threading.Lock()


def translations(locale: str) -> Translations:
    """The compiled catalogue of a supported locale, English behind it as the fallback."""
    with _lock:
        if not _loaded:
            english = _compile(DEFAULT)
            _loaded[DEFAULT] = english
            for lang in LANGUAGES:
                if lang != DEFAULT:
                    _loaded[lang] = _compile(lang)
                    _loaded[lang].add_fallback(english)
    return _loaded.get(locale, _loaded[DEFAULT])


def supported(code: str | None) -> str | None:
    """The supported locale for a tag (`pt-BR`, `pt_br`, `de`), or None."""
    if not code:
        return None
    wanted = code.strip().replace("_", "-").lower()
    return next((lang for tag, lang in _TAGS.items() if tag.lower() == wanted), None)


def accepted(header: str) -> list[str]:
    """The tags of an `Accept-Language` header, most wanted first (q=0 means "not this")."""
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and tag != "*" and q > 0:
            weighted.append((-q, index, tag.strip()))
    return [tag for _, _, tag in sorted(weighted)]


def negotiate(header: str | None) -> str:
    """The locale for an `Accept-Language` header: Babel's negotiation (`de-DE` -> `de`), then
    another region of the same language (`pt-PT` -> `pt_BR`), else English."""
    preferred = accepted(header or "")
    found = negotiate_locale(preferred, list(_TAGS), sep="-")
    if found:
        return _TAGS[found]
    for tag in preferred:
        language = tag.split("-")[0].lower()
        for lang in LANGUAGES:
            if lang.split("_")[0] == language:
                return lang
    return DEFAULT


def choose(request: Request) -> tuple[str, bool]:
    """The request's locale, and True when `?lang=` chose it (the cookie must remember it)."""
    asked = supported(request.query_params.get("lang"))
    if asked:
        return asked, True
    remembered = supported(request.cookies.get(LANG_COOKIE))
    if remembered:
        return remembered, False
    return negotiate(request.headers.get("accept-language")), False


def moment(value: datetime, locale: str) -> str:
    """A UTC date and time as the locale writes it (`02.12.2026, 18:30 UTC`); English keeps
    the ISO-like form the API, the dashboard and the bots use (`2026-12-02 18:30 UTC`)."""
    return locales.moment(value, locale) + " UTC"


def localized(value: Any, locale: str) -> Any:
    """A value for a message: numbers and dates formatted for the locale, strings untouched."""
    if isinstance(value, datetime):
        return moment(value, locale)
    if isinstance(value, date):
        return format_date(value, "medium", locale=locale)
    return locales.formatted(value, locale)


def _capitalized(name: str) -> str:
    return name[:1].upper() + name[1:]  # "Português (Brasil)", not str.capitalize's "(brasil)"


@dataclass(frozen=True, slots=True)
class Language:
    """One request's language: its messages, its formats, the switcher's links."""

    locale: str
    catalogue: Translations = field(repr=False)

    @classmethod
    def of(cls, locale: str) -> Language:
        return cls(locale, translations(locale))

    @property
    def tag(self) -> str:
        """The BCP 47 tag for `<html lang>` (`pt-BR`)."""
        return self.locale.replace("_", "-")

    def has(self, key: str) -> bool:
        """Whether `key` is a message (English has every key)."""
        return translations(DEFAULT).gettext(key) != key

    def text(self, key: str, /, **values: Any) -> str:
        """The message `key` as plain text, its values formatted for the locale."""
        template: str = self.catalogue.gettext(key)
        if not values:
            return template
        return template.format(**{k: localized(v, self.locale) for k, v in values.items()})

    def gettext(self, key: str, /, **values: Any) -> Markup:
        """The message `key` for a template (`_()`): the text escaped, each value escaped
        unless it is markup already (a `<time>` element built by the template)."""
        template = escape(self.catalogue.gettext(key))
        return template.format(**{k: localized(v, self.locale) for k, v in values.items()})

    def when(self, value: datetime) -> str:
        return moment(value, self.locale)

    def number(self, value: int) -> str:
        return str(format_decimal(value, locale=self.locale))

    def switcher(self, request: Request) -> list[dict[str, Any]]:
        """The language links: each language in its own name, the current one marked."""
        return [
            {
                "tag": lang.replace("_", "-"),
                "name": _capitalized(Locale.parse(lang).get_display_name(lang) or lang),
                "href": str(request.url.include_query_params(lang=lang.replace("_", "-"))),
                "current": lang == self.locale,
            }
            for lang in LANGUAGES
        ]

    def context(self, request: Request) -> dict[str, Any]:
        """What a member-facing template needs: `gettext` for `_()`, `<html lang>`, the links."""
        return {
            "gettext": self.gettext,
            "lang": self,
            "html_lang": self.tag,
            "languages": self.switcher(request),
        }


def for_request(request: Request) -> tuple[Language, bool]:
    locale, chosen = choose(request)
    return Language.of(locale), chosen
