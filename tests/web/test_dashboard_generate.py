"""The dashboard's code generation form and code expiry: the form on the campaign page, the
report it leads to, a refusal shown as a page, the TTL field, expired codes counted apart."""

from __future__ import annotations

import re

from domain import expiry
from domain.models import PromoCode
from tests import factories
from tests.web.conftest import Dev


async def test_the_campaign_page_form_generates_codes_and_shows_the_report(dev: Dev) -> None:
    c = await factories.campaign(dev.developer.id)
    page = await dev.http.get(f"/dashboard/c/{c.id}")
    assert f'action="/dashboard/c/{c.id}/generate"' in page.text
    r = await dev.http.post(
        f"/dashboard/c/{c.id}/generate",
        data={
            "csrf_token": dev.csrf,
            "count": "250",
            "pattern": "****-****",
            "prefix": "DASH-",
            "exclude_lookalikes": "on",
        },
    )
    assert r.status_code == 303, r.text
    report = await dev.http.get(r.headers["location"])
    assert report.status_code == 200 and re.search(r'data-report="imported">250<', report.text)
    stored = await PromoCode.all().values_list("code", flat=True)
    assert len(set(stored)) == 250
    assert all(re.fullmatch(r"DASH-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}", str(s)) for s in stored)


async def test_a_pattern_too_small_for_the_count_is_refused_on_a_page_naming_the_field(
    dev: Dev,
) -> None:
    c = await factories.campaign(dev.developer.id)
    r = await dev.http.post(
        f"/dashboard/c/{c.id}/generate",
        data={"csrf_token": dev.csrf, "count": "50", "pattern": "AB-##"},
    )
    assert r.status_code == 422
    assert "count: The pattern AB-## makes 100 codes" in r.text
    assert await PromoCode.all().count() == 0


async def test_the_generate_form_needs_the_csrf_token(dev: Dev) -> None:
    c = await factories.campaign(dev.developer.id)
    r = await dev.http.post(f"/dashboard/c/{c.id}/generate", data={"count": "5", "pattern": "####"})
    assert r.status_code in (400, 403)
    assert await PromoCode.all().count() == 0


async def test_the_ttl_field_sets_code_ttl_days_and_expired_codes_show_apart(dev: Dev) -> None:
    c = await factories.campaign(dev.developer.id)
    form = await dev.http.get(f"/dashboard/c/{c.id}/edit")
    assert 'name="code_ttl_days"' in form.text
    r = await dev.http.post(
        f"/dashboard/c/{c.id}/edit",
        data={
            "csrf_token": dev.csrf,
            "name": "Launch week",
            "platform": "universal",
            "per_claimant_limit": "1",
            "low_stock_threshold": "0",
            "identity": "anonymous",
            "code_ttl_days": "28",
        },
    )
    assert r.status_code == 303, r.text
    assert 'value="28"' in (await dev.http.get(f"/dashboard/c/{c.id}/edit")).text
    await factories.upload_codes(
        dev.developer.id, c.id, "code,expires_at\nPAST0001,2020-01-01\nLIVE0001,\n"
    )
    await expiry.run_expiry(events_bus=None)
    page = await dev.http.get(f"/dashboard/c/{c.id}")
    assert re.search(r'data-testid="expired-count"><strong>1</strong> expired', page.text)
