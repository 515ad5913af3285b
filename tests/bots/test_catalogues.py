"""The catalogue check CI runs: every language has every message, with the same placeholders
(and, for Telegram, the same HTML tags) as English, nothing fuzzy, and what the bots load is
what the `.po` files say (they are compiled at load, so no `.mo` can be stale)."""

from __future__ import annotations

import re
import string
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from bots import texts as shared
from bots.discord import texts as discord_texts
from bots.i18n import DEFAULT, LANGUAGES, LOCALES_DIR, Catalogue, negotiate
from bots.telegram import texts as telegram_texts

CATALOGUES: dict[str, Catalogue] = {
    "shared": shared.CATALOGUE,
    "telegram": telegram_texts.CATALOGUE,
    "discord": discord_texts.CATALOGUE,
}
TAG = re.compile(r"</?[a-z]+>")
DOMAIN_LOCALES = [(d, lang) for d in CATALOGUES for lang in LANGUAGES]


def po(domain: str, lang: str) -> Catalog:
    path = LOCALES_DIR / lang / "LC_MESSAGES" / f"{domain}.po"
    with path.open("rb") as fp:
        return read_po(fp, locale=lang, domain=domain)


def messages(domain: str, lang: str) -> dict[str, str]:
    return {str(m.id): str(m.string) for m in po(domain, lang) if m.id}


def placeholders(template: str) -> Counter[str]:
    """The `{name}` fields of a template (str.format's own parser)."""
    return Counter(field for _, field, _, _ in string.Formatter().parse(template) if field)


def test_the_languages_are_the_eight_the_bots_promise() -> None:
    assert LANGUAGES == ("en", "es", "pt_BR", "de", "fr", "ru", "tr", "ja")
    found = {p.name for p in LOCALES_DIR.iterdir() if p.is_dir()}
    assert found == set(LANGUAGES)


@pytest.mark.parametrize(("domain", "lang"), DOMAIN_LOCALES)
def test_every_catalogue_has_exactly_the_english_keys_all_translated(
    domain: str, lang: str
) -> None:
    english = messages(domain, DEFAULT)
    assert len(english) > 30
    ours = messages(domain, lang)
    assert sorted(set(english) - set(ours)) == [], "keys missing"
    assert sorted(set(ours) - set(english)) == [], "keys English does not have"
    assert sorted(k for k, v in ours.items() if not v.strip()) == [], "untranslated keys"
    catalog = po(domain, lang)
    assert [m.id for m in catalog if m.id and m.fuzzy] == [], "fuzzy entries are not compiled"
    assert list(catalog.obsolete) == []


@pytest.mark.parametrize(("domain", "lang"), DOMAIN_LOCALES)
def test_a_translation_keeps_the_placeholders_and_tags_of_the_english_text(
    domain: str, lang: str
) -> None:
    english = messages(domain, DEFAULT)
    wrong = {
        key: (sorted(placeholders(text)), sorted(placeholders(english[key])))
        for key, text in messages(domain, lang).items()
        if placeholders(text) != placeholders(english[key])
    }
    assert wrong == {}
    if domain == "telegram":  # HTML, but command descriptions are plain text (`<id>`)
        tags = {
            key: text
            for key, text in messages(domain, lang).items()
            if not key.startswith("command.")
            and Counter(TAG.findall(text)) != Counter(TAG.findall(english[key]))
        }
        assert tags == {}


def test_the_placeholder_check_catches_a_dropped_or_added_placeholder() -> None:
    assert placeholders("{left} codes left") != placeholders("Codes übrig")
    assert placeholders("{left} codes left") != placeholders("{left} Codes übrig {extra}")
    assert placeholders("{left} codes left") == placeholders("{left} Codes übrig")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_command_texts_fit_the_platform_limits(lang: str) -> None:
    # Discord: descriptions and choice names 1-100 characters; Telegram: 1-256
    too_long = {
        k: len(v)
        for k, v in messages("discord", lang).items()
        if k.startswith(("command.", "choice.")) and not 0 < len(v) <= 100
    }
    too_long |= {
        k: len(v)
        for k, v in messages("telegram", lang).items()
        if k.startswith("command.") and not 0 < len(v) <= 256
    }
    assert too_long == {}


@pytest.mark.parametrize(("domain", "lang"), DOMAIN_LOCALES)
def test_what_the_bots_load_is_what_the_po_file_says(domain: str, lang: str) -> None:
    catalogue = CATALOGUES[domain]
    assert catalogue.keys == frozenset(messages(domain, DEFAULT))
    loaded = {key: catalogue.gettext(key, lang) for key in catalogue.keys}
    assert loaded == messages(domain, lang)


def test_no_compiled_catalogue_is_committed_beside_the_sources() -> None:
    # the bots compile the .po files when they load them; a .mo here could only be stale
    assert sorted(Path(LOCALES_DIR).rglob("*.mo")) == []


def test_a_language_without_a_message_falls_back_to_english(tmp_path: Path) -> None:
    english = tmp_path / "en" / "LC_MESSAGES"
    german = tmp_path / "de" / "LC_MESSAGES"
    english.mkdir(parents=True)
    german.mkdir(parents=True)
    (english / "t.po").write_text(
        'msgid "a"\nmsgstr "Hello {name}"\n\nmsgid "b"\nmsgstr "Bye"\n', encoding="utf-8"
    )
    (german / "t.po").write_text('msgid "a"\nmsgstr "Hallo {name}"\n', encoding="utf-8")
    catalogue = Catalogue("t", path=tmp_path, languages=("en", "de"))
    assert catalogue.render("a", "de", name="Ada") == "Hallo Ada"
    assert catalogue.render("b", "de") == "Bye"
    assert catalogue.render("a", "xx", name="Ada") == "Hello Ada"


@pytest.mark.parametrize(
    ("code", "locale"),
    [
        ("de", "de"),
        ("pt-br", "pt_BR"),
        ("pt-BR", "pt_BR"),
        ("pt", "pt_BR"),
        ("es-ES", "es"),
        ("es-419", "es"),
        ("en-US", "en"),
        ("ja", "ja"),
        ("de_AT", "de"),
        ("xx", "en"),
        ("zh-CN", "en"),
        ("", "en"),
        (None, "en"),
        ("not a locale!", "en"),
    ],
)
def test_platform_language_codes_map_to_a_catalogue_locale(code: str | None, locale: str) -> None:
    assert negotiate(code) == locale
