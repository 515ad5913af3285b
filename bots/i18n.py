"""Message catalogues: gettext `.po` files per language, loaded with Babel, plus locale formats.

Every sentence a front shows is a message KEY (`claim.ok`, `command.claim`) looked up in one
gettext domain: `shared` (what both bots say), `telegram`, `discord` (and later `web` for the
claim page), each in `bots/locales/<locale>/LC_MESSAGES/<domain>.po`. The key is the msgid;
the English catalogue holds the English wording, and every other language falls back to it
for a message it lacks.

The `.po` files are the only source: nothing compiled is committed. `Catalogue` compiles each
file with Babel (`read_po` then `write_mo` into memory) the first time a domain is used and
loads the result as a `babel.support.Translations`, so a stale `.mo` cannot exist and adding
a language needs no build step. A fuzzy entry is not compiled (gettext's rule); the catalogue
check in `tests/bots/test_catalogues.py` refuses fuzzy entries, missing keys and changed
placeholders.

`negotiate` maps what a platform sends (Telegram `pt-br`, Discord `es-ES`, a browser's
`de-AT`) to a supported locale, English when none fits; `localized` formats the numbers and
dates inserted into a message with Babel for that locale (English dates keep the ISO-like
form the rest of the product uses). Codes are strings and are inserted as they are.

The languages, the in-memory compilation and the locale formats are `domain.locales`, which
the claim page's catalogue (api/web/i18n.py) shares.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.support import Translations

from domain import locales
from domain.locales import DEFAULT, LANGUAGES, compile_po

LOCALES_DIR = Path(__file__).resolve().parent / "locales"


def negotiate(code: str | None, languages: tuple[str, ...] = LANGUAGES) -> str:
    """The supported locale for a platform's language code (`pt-br` -> `pt_BR`), else English.

    The exact locale first, then the bare language (`de-AT` -> `de`), then another region of
    the same language (`pt` or `pt-PT` -> `pt_BR`), so a member reads their language even
    when only one variant of it is translated.
    """
    if not code:
        return DEFAULT
    try:
        locale = Locale.parse(code.strip().replace("_", "-"), sep="-")
    except (ValueError, TypeError, UnknownLocaleError):
        return DEFAULT
    for candidate in (str(locale), locale.language):
        if candidate in languages:
            return candidate
    for supported in languages:
        if supported.split("_")[0] == locale.language:
            return supported
    return DEFAULT


class Catalogue:
    """One gettext domain in every supported language, English behind each as the fallback."""

    def __init__(
        self,
        domain: str,
        *,
        path: Path = LOCALES_DIR,
        languages: tuple[str, ...] = LANGUAGES,
    ) -> None:
        self.domain = domain
        self.path = path
        self.languages = languages
        self._loaded: dict[str, Translations] | None = None
        self._keys: frozenset[str] = frozenset()
        self._lock = threading.Lock()

    def po_path(self, locale: str) -> Path:
        return self.path / locale / "LC_MESSAGES" / f"{self.domain}.po"

    def _load(self) -> dict[str, Translations]:
        with self._lock:
            if self._loaded is None:
                english = compile_po(self.po_path(DEFAULT), DEFAULT, self.domain)
                loaded = {DEFAULT: english}
                for locale in self.languages:
                    if locale != DEFAULT:
                        translations = compile_po(self.po_path(locale), locale, self.domain)
                        translations.add_fallback(english)
                        loaded[locale] = translations
                self._keys = frozenset(k for k in english._catalog if isinstance(k, str) and k)
                self._loaded = loaded
            return self._loaded

    @property
    def translations(self) -> Mapping[str, Translations]:
        """Every supported locale's `babel.support.Translations` (compiled on first use)."""
        return self._load()

    @property
    def keys(self) -> frozenset[str]:
        """Every message key of this domain (the English catalogue's msgids)."""
        self._load()
        return self._keys

    def __contains__(self, key: object) -> bool:
        return key in self.keys

    def gettext(self, key: str, lang: str | None = None) -> str:
        """The template for `key` in `lang` (any platform code; English when unsupported)."""
        translations = self.translations
        found = translations.get(lang or DEFAULT) or translations[negotiate(lang, self.languages)]
        return found.gettext(key)

    def render(self, key: str, lang: str | None = None, /, **values: Any) -> str:
        """The message for `key` in `lang` with its values inserted, formatted for `lang`."""
        return self.gettext(key, lang).format(**localized(values, lang))


def moment(value: datetime, lang: str | None) -> str:
    """A UTC date and time as the member's language writes it (`02.12.2026, 18:30`)."""
    return locales.moment(value, negotiate(lang))


def day(value: date, lang: str | None) -> str:
    """A date as the member's language writes it (`2 de dez. de 2026`; English `2026-12-02`)."""
    return locales.day(value, negotiate(lang))


def localized(values: Mapping[str, Any], lang: str | None) -> dict[str, Any]:
    """Values for a template: numbers and dates formatted for the locale, the rest unchanged."""
    locale = negotiate(lang)
    return {name: locales.formatted(value, locale) for name, value in values.items()}
