"""The languages codedrop speaks and how it writes numbers and dates in each (Babel).

Every front that shows sentences (the bots, the claim page) keeps its own gettext catalogue
(`bots/locales/`, `api/web/locales/`) but shares what is here: the supported locales in the
order a switcher shows them, the English default, the in-memory compilation of a `.po` file
(nothing compiled is committed, so no `.mo` can be stale), and the locale formats of the
values inserted into a message. English dates keep the ISO-like form the API, the dashboard
and the domain's own sentences use (`2026-12-02 18:30`); other languages get CLDR's medium
forms. Codes are strings and are never reformatted.

Only Babel is imported here: the domain can build a member's e-mail in their language, and
`bots/` and `api/` can both depend on it without depending on each other.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from babel.dates import format_date, format_datetime, format_time, get_datetime_format
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

DEFAULT = "en"
# the order is the order a language switcher shows them in
LANGUAGES = ("en", "es", "pt_BR", "de", "fr", "ru", "tr", "ja")


def compile_po(path: Path, locale: str, domain: str) -> Translations:
    """A `.po` file compiled in memory (as `pybabel compile` would) and loaded by Babel."""
    with path.open("rb") as fp:
        catalog = read_po(fp, locale=locale, domain=domain)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer, domain=domain)


def moment(value: datetime, locale: str) -> str:
    """A UTC date and time as `locale` writes it (`02.12.2026, 18:30`; English
    `2026-12-02 18:30`)."""
    when = value if value.tzinfo else value.replace(tzinfo=UTC)
    if locale == DEFAULT:
        return format_datetime(when, "yyyy-MM-dd HH:mm", tzinfo=UTC, locale=locale)
    pattern = str(get_datetime_format("medium", locale=locale)).replace("'", "")
    time = format_time(when, "short", tzinfo=UTC, locale=locale)
    return pattern.replace("{0}", time).replace("{1}", format_date(when, "medium", locale=locale))


def day(value: date, locale: str) -> str:
    """A date as `locale` writes it (`2 de dez. de 2026`; English `2026-12-02`)."""
    return format_date(value, "yyyy-MM-dd" if locale == DEFAULT else "medium", locale=locale)


def formatted(value: Any, locale: str) -> Any:
    """A value for a message: numbers and dates in the locale's form, anything else as it is
    (codes and names are strings and are never reformatted)."""
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        return format_decimal(value, locale=locale)
    if isinstance(value, datetime):
        return moment(value, locale)
    if isinstance(value, date):
        return day(value, locale)
    return value
