"""The claim page in the member's language, and the check CI runs on its catalogue.

A member's browser (`Accept-Language`) picks the language, the page's switcher (`?lang=`,
then a cookie) overrides it, anything unknown reads English; codes are the same bytes in
every language. The catalogue check: every language has exactly the English keys, all
translated, with the same placeholders, nothing fuzzy, no compiled `.mo` beside the sources,
what the page loads is what the `.po` says, and every key the page's code and templates use
(found by Babel's extractor with `babel.cfg`) is in the catalogue.
"""

from __future__ import annotations

import html
import re
import string
from collections import Counter
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from api.web import i18n
from domain import clock, waitlist
from domain.values import REDEMPTION_HINTS
from tests import factories
from tests.web.conftest import csrf_of

ROOT = Path(__file__).resolve().parents[2]
GERMAN = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}


async def campaign_with(n: int, **fields: object) -> tuple[str, list[str]]:
    dev, _ = await factories.developer("Owner")
    c = await factories.campaign(dev.id, platform="ios", **fields)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(n, prefix="LANG"))
    return c.id, [f"LANG{i:06d}" for i in range(n)]


async def sold_out(app: object) -> str:
    """A campaign whose one code another member took."""
    cid, _ = await campaign_with(1)
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as other:
        page = await other.get(f"/c/{cid}")
        await other.post(f"/c/{cid}/claim", data={"csrf_token": csrf_of(page.text)})
    return cid


def html_lang(page: str) -> str:
    found = re.search(r'<html lang="([^"]+)">', page)
    assert found
    return found.group(1)


def codes_left(page: str) -> str:
    found = re.search(r'data-testid="codes-left">([^<]+)<', page)
    assert found
    return found.group(1)


def shown_code(page: str) -> str:
    found = re.search(r'data-testid="code">([^<]+)<', page)
    assert found
    return found.group(1)


# -- the page ---------------------------------------------------------------------------------


async def test_a_german_browser_gets_the_page_in_german_with_german_numbers(
    visitor: httpx.AsyncClient,
) -> None:
    cid, _ = await campaign_with(1234)
    r = await visitor.get(f"/c/{cid}", headers=GERMAN)
    assert r.status_code == 200
    assert html_lang(r.text) == "de" and r.headers["content-language"] == "de"
    assert "<title>Launch week · hol dir deinen Code</title>" in r.text
    assert ">Code holen</button>" in r.text and "Get my code" not in r.text
    assert "Verbleibende Codes:" in r.text and ">Offen</span>" in r.text
    assert codes_left(r.text) == "1.234"  # CLDR's German grouping, not "1,234"
    assert 'data-busy="Dein Code wird geholt …"' in r.text  # claim.js's words too


async def test_a_brazilian_browser_gets_portuguese_and_an_unknown_one_english(
    visitor: httpx.AsyncClient,
) -> None:
    cid, _ = await campaign_with(1234)
    pt = await visitor.get(f"/c/{cid}", headers={"Accept-Language": "pt-BR,pt;q=0.8"})
    assert html_lang(pt.text) == "pt-BR"
    assert ">Pegar meu código</button>" in pt.text and "Códigos restantes:" in pt.text
    assert codes_left(pt.text) == "1.234"
    for header in ({"Accept-Language": "xx"}, {"Accept-Language": "zh-CN,zh;q=0.9"}, {}):
        en = await visitor.get(f"/c/{cid}", headers=header)
        assert html_lang(en.text) == "en", header
        assert ">Get my code</button>" in en.text and codes_left(en.text) == "1,234"


async def test_the_switcher_overrides_the_browser_and_is_remembered(
    visitor: httpx.AsyncClient,
) -> None:
    cid, _ = await campaign_with(2)
    page = await visitor.get(f"/c/{cid}", headers=GERMAN)
    links = dict(re.findall(r'<a href="([^"]+)" hreflang="([^"]+)"', page.text))
    assert sorted(links.values()) == sorted(t.replace("_", "-") for t in i18n.LANGUAGES)
    french = next(href for href, tag in links.items() if tag == "fr")
    assert html.unescape(french).endswith(f"/c/{cid}?lang=fr")
    assert 'hreflang="de" lang="de" rel="nofollow" aria-current="true">Deutsch<' in page.text

    chosen = await visitor.get(html.unescape(french), headers=GERMAN)
    assert html_lang(chosen.text) == "fr" and ">Obtenir mon code</button>" in chosen.text
    assert "cd_lang=fr" in chosen.headers["set-cookie"]
    later = await visitor.get(f"/c/{cid}", headers=GERMAN)  # no ?lang=: the cookie decides
    assert html_lang(later.text) == "fr"
    back = await visitor.get(f"/c/{cid}?lang=ja", headers=GERMAN)
    assert html_lang(back.text) == "ja" and "コードを受け取る" in back.text
    bogus = await visitor.get(f"/c/{cid}?lang=klingon", headers=GERMAN)
    assert html_lang(bogus.text) == "ja"  # an unknown choice changes nothing


async def test_a_code_is_the_same_bytes_in_every_language(visitor: httpx.AsyncClient) -> None:
    cid, codes = await campaign_with(3)
    first = await visitor.get(f"/c/{cid}?lang=ru")
    r = await visitor.post(f"/c/{cid}/claim", data={"csrf_token": csrf_of(first.text)})
    code = shown_code(r.text)
    assert code in codes and "Ваш код" in r.text
    for lang in i18n.LANGUAGES:
        page = await visitor.get(f"/c/{cid}?lang={lang.replace('_', '-')}")
        assert html_lang(page.text) == lang.replace("_", "-")
        again = await visitor.post(f"/c/{cid}/claim", data={"csrf_token": csrf_of(page.text)})
        assert shown_code(again.text).encode() == code.encode(), lang
        as_json = await visitor.post(
            f"/c/{cid}/claim",
            data={"csrf_token": csrf_of(page.text)},
            headers={"Accept": "application/json"},
        )
        assert as_json.json()["code"].encode() == code.encode()
        assert f"code={code}" in as_json.json()["hint"]  # the store link keeps it as it is
        if lang == "de":
            assert as_json.json()["hint"].startswith("Im App Store einlösen: https://")


async def test_refusals_are_translated_by_their_code(
    visitor: httpx.AsyncClient, app: object
) -> None:
    starts = clock.now().replace(second=0, microsecond=0) + timedelta(hours=5)
    cid, _ = await campaign_with(2, starts_at=starts)
    page = await visitor.get(f"/c/{cid}", headers=GERMAN)
    assert "Noch nicht gestartet." in page.text
    german_start = i18n.Language.of("de").when(starts)
    assert f">{german_start}</time>" in page.text and "UTC" in german_start
    assert starts.strftime("%Y-%m-%d") not in german_start  # CLDR's German date, not ISO
    # the page has no form before the start; the token is the visitor's, from any claim page
    token = csrf_of((await visitor.get(f"/c/{(await campaign_with(1))[0]}")).text)
    refused = await visitor.post(
        f"/c/{cid}/claim",
        data={"csrf_token": token},
        headers={**GERMAN, "Accept": "application/json"},
    )
    assert refused.status_code == 409 and refused.json()["code"] == "campaign_not_started"
    assert refused.json()["detail"] == f"Diese Aktion startet am {german_start}."
    english = await visitor.post(
        f"/c/{cid}/claim",
        data={"csrf_token": token},
        headers={"Accept": "application/json"},
    )
    assert english.json()["detail"].startswith("This campaign opens at ")

    sold = await sold_out(app)
    empty = await visitor.get(f"/c/{sold}?lang=es")
    assert "Agotada." in empty.text and ">Unirme a la lista de espera</button>" in empty.text
    bad = await visitor.post(
        f"/c/{sold}/waitlist", data={"csrf_token": csrf_of(empty.text), "email": "nope"}
    )
    assert bad.status_code == 422
    assert "Escribe una dirección de correo como name@example.com." in bad.text


async def test_the_waitlist_pages_follow_the_language(
    visitor: httpx.AsyncClient, app: object
) -> None:
    cid = await sold_out(app)
    r = await visitor.get(f"/c/{cid}/waitlist/confirm?token=unknown", headers=GERMAN)
    assert html_lang(r.text) == "de" and "Link ungültig" in r.text
    r = await visitor.get(f"/c/{cid}/waitlist/unsubscribe?token=unknown&lang=tr")
    assert html_lang(r.text) == "tr" and "Bekleme listesinde değil" in r.text
    assert "lang=ja" in r.text  # the switcher keeps the token in its links
    assert "token=unknown" in html.unescape(r.text.split('hreflang="ja"')[0].rsplit("<a", 1)[1])


# -- language negotiation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        ("de-DE,de;q=0.9", "de"),
        ("pt-BR", "pt_BR"),
        ("pt-PT,pt;q=0.9", "pt_BR"),
        ("es-419,es;q=0.9", "es"),
        ("fr-CA;q=0.5, ja", "ja"),
        ("en-US,en;q=0.9,de;q=0.8", "en"),
        ("xx", "en"),
        ("zh-CN", "en"),
        ("de;q=0", "en"),
        ("*", "en"),
        ("de;q=bogus, tr", "tr"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_accept_language_maps_to_a_catalogue_locale(header: str | None, locale: str) -> None:
    assert i18n.negotiate(header) == locale


# -- the catalogue check ------------------------------------------------------------------------


def po(lang: str) -> Catalog:
    with i18n.po_path(lang).open("rb") as fp:
        return read_po(fp, locale=lang, domain=i18n.DOMAIN)


def messages(lang: str) -> dict[str, str]:
    return {str(m.id): str(m.string) for m in po(lang) if m.id}


def placeholders(template: str) -> Counter[str]:
    """The `{name}` fields of a template (str.format's own parser)."""
    return Counter(field for _, field, _, _ in string.Formatter().parse(template) if field)


def test_the_languages_are_the_eight_of_issue_18() -> None:
    assert i18n.LANGUAGES == ("en", "es", "pt_BR", "de", "fr", "ru", "tr", "ja")
    assert {p.name for p in i18n.LOCALES_DIR.iterdir() if p.is_dir()} == set(i18n.LANGUAGES)


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_every_catalogue_has_exactly_the_english_keys_all_translated(lang: str) -> None:
    english = messages(i18n.DEFAULT)
    assert len(english) > 60
    ours = messages(lang)
    assert sorted(set(english) - set(ours)) == [], "keys missing"
    assert sorted(set(ours) - set(english)) == [], "keys English does not have"
    assert sorted(k for k, v in ours.items() if not v.strip()) == [], "untranslated keys"
    catalog = po(lang)
    assert [m.id for m in catalog if m.id and m.fuzzy] == [], "fuzzy entries are not compiled"
    assert not catalog.fuzzy and list(catalog.obsolete) == []


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_a_translation_keeps_the_placeholders_of_the_english_text(lang: str) -> None:
    english = messages(i18n.DEFAULT)
    wrong = {
        key: (sorted(placeholders(text)), sorted(placeholders(english[key])))
        for key, text in messages(lang).items()
        if placeholders(text) != placeholders(english[key])
    }
    assert wrong == {}


def test_the_placeholder_check_catches_a_dropped_or_added_placeholder() -> None:
    assert placeholders("Codes can be claimed from {when}.") != placeholders("Codes gibt es.")
    assert placeholders("{when}") != placeholders("{when} {extra}")
    assert placeholders("It closed on {when}.") == placeholders("Sie endete am {when}.")


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_what_the_page_loads_is_what_the_po_file_says(lang: str) -> None:
    language = i18n.Language.of(lang)
    assert {key: language.text(key) for key in messages(lang)} == messages(lang)


def test_no_compiled_catalogue_is_committed_beside_the_sources() -> None:
    # the page compiles the .po files when it loads them; a .mo here could only be stale
    assert sorted(i18n.LOCALES_DIR.rglob("*.mo")) == []


# keys the code builds from a value (a card state, a refusal's code, a waitlist page's state)
DYNAMIC = (
    {f"hint.{platform}" for platform in REDEMPTION_HINTS}
    | {f"state.{s}" for s in ("open", "sold_out", "paused", "not_started", "ended")}
    | {
        f"wl.{s}.{part}"
        for s in [*waitlist.Confirmed, "gone", "removed"]
        for part in ("title", "text")
    }
    | {f"wl.{s}.{part}" for s in ("confirm", "unsubscribe") for part in ("title", "text", "button")}
    | {
        f"refusal.{code}"
        for code in (
            "sold_out",
            "campaign_not_started",
            "campaign_not_active",
            "campaign_ended",
            "not_eligible",
            "not_eligible.at",
            "identity_required",
            "platform_required",
            "platform_not_served",
            "rate_limited",
            "signin_failed",
            "cookie_missing",
            "csrf_failed",
            "validation_error.email",
            "validation_error.waitlist",
            "service_unavailable",
            "service_unavailable.mail",
        )
    }
)


def test_the_keys_the_page_uses_are_exactly_the_catalogue(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    keywords = {**DEFAULT_KEYWORDS, "text": None, "has": None}
    used = {str(m[2]) for m in extract_from_dir(str(ROOT), method_map, options_map, keywords)}
    capsys.readouterr()  # the extractor warns about the f-strings that build DYNAMIC keys
    assert len(used) > 40
    english = set(messages(i18n.DEFAULT))
    assert sorted(used - english) == [], "used but missing from the catalogue"
    assert sorted(english - used - DYNAMIC) == [], "in the catalogue but never used"
    assert sorted(DYNAMIC - english) == []
