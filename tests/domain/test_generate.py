"""Generated codes: the pattern grammar, look-alikes left out, uniqueness within the campaign,
refusal when the pattern's space is too small, the campaign's TTL."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import cycle

import pytest

from domain import clock, generate, uploads
from domain.adapters.bootstrap import Services, bootstrap
from domain.errors import RateLimited, ValidationFailed
from domain.generate import GenerateRequest, make_codes, parse_pattern, random_chars
from domain.models import PromoCode, Upload
from domain.settings import Settings
from tests import factories


def test_the_pattern_grammar_makes_digits_letters_either_and_keeps_literals() -> None:
    p = parse_pattern("PROMO-##??-**", prefix="X_", suffix="-Z")
    codes = make_codes(p, 2000)
    assert len(codes) == 2000
    assert all(re.fullmatch(r"X_PROMO-[0-9]{2}[A-Z]{2}-[0-9A-Z]{2}-Z", c) for c in codes)
    assert p.space == 10**2 * 26**2 * 36**2
    # `*` really draws both kinds
    either = "".join(c[-4:-2] for c in codes)
    assert any(ch.isdigit() for ch in either) and any(ch.isalpha() for ch in either)


def test_excluding_lookalikes_leaves_out_0_o_1_i_l() -> None:
    p = parse_pattern("****-****", exclude_lookalikes=True)
    text = "".join(make_codes(p, 5000))
    assert not set(text) & set("0O1IL")
    assert set(text) - {"-"} == set("23456789ABCDEFGHJKMNPQRSTUVWXYZ")
    assert p.space == 31**8


def test_random_characters_are_uniform_over_the_alphabet() -> None:
    # bytes past the largest multiple of the alphabet's size are dropped, not folded in:
    # fed every byte value in turn, each of the 10 digits comes out equally often
    every_byte = cycle(range(256))
    counts = Counter(
        random_chars(
            "0123456789", 5000, token_bytes=lambda n: bytes(next(every_byte) for _ in range(n))
        )
    )
    assert set(counts) == set("0123456789")
    assert max(counts.values()) - min(counts.values()) <= 1


@pytest.mark.parametrize(
    ("pattern", "prefix", "message"),
    [
        ("PROMO", "", "needs at least one placeholder"),
        ("AB#?!", "", "pattern may hold letters, digits"),
        ("####", "A B", "prefix may hold letters, digits"),
        ("#", "", "Codes would be 1 characters long"),
        ("#" * 65, "", "Codes would be 65 characters long"),
    ],
)
def test_a_bad_pattern_is_refused_with_the_field_and_the_reason(
    pattern: str, prefix: str, message: str
) -> None:
    with pytest.raises(ValidationFailed, match=message) as caught:
        parse_pattern(pattern, prefix=prefix)
    assert caught.value.field in ("pattern", "prefix")


async def test_generated_codes_are_unique_and_skip_codes_already_in_the_campaign(
    services: Services,
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    # the pattern has 26^2 * 10^2 = 67,600 codes; 400 are already there
    existing = [f"GEN-{a}{b}{n:02d}" for a in "AB" for b in "ABCDEFGHIJ" for n in range(20)]
    await factories.upload_codes(dev.id, c.id, "\n".join(existing) + "\n")
    report = await generate.generate_codes(
        services,
        owner_id=dev.id,
        campaign_id=c.id,
        request=GenerateRequest(count=6000, pattern="??##", prefix="GEN-"),
    )
    assert (report.status, report.imported, report.rows) == ("done", 6000, 6000)
    stored = await PromoCode.filter(campaign_id__isnull=False).values_list("code", flat=True)
    assert len(stored) == len(set(stored)) == 6400
    assert all(re.fullmatch(r"GEN-[A-Z]{2}[0-9]{2}", str(code)) for code in stored)


async def test_generation_regenerates_collisions_until_the_count_is_reached(
    services: Services,
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    admitted = await generate.admit_generation(services, developer_id=dev.id, campaign_id=c.id)
    campaign, p, upload = await generate.start_generation(
        admitted, request=GenerateRequest(count=10, pattern="CODE-##")
    )
    # run past the 10 % rule on purpose: 60 of the 100 codes "CODE-00".."CODE-99" in batches
    # of 5, so later batches mostly collide with earlier ones and are made up for
    report = await generate.run_generation(
        campaign=campaign,
        pattern=p,
        upload=upload,
        count=60,
        batch_size=5,
        events_bus=factories.BUS,
    )
    assert (report.status, report.imported) == ("done", 60)
    stored = await PromoCode.filter(upload_id=upload.id).values_list("code", flat=True)
    assert len(stored) == len(set(stored)) == 60


async def test_a_count_over_a_tenth_of_the_space_is_refused_counting_existing_codes(
    services: Services,
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    # "##-##" makes 10,000 codes: 1,000 fit under the 10 % rule
    await generate.generate_codes(
        services,
        owner_id=dev.id,
        campaign_id=c.id,
        request=GenerateRequest(count=1000, pattern="##-##"),
    )
    with pytest.raises(ValidationFailed, match="at most 0 can be generated") as caught:
        await generate.generate_codes(
            services,
            owner_id=dev.id,
            campaign_id=c.id,
            request=GenerateRequest(count=1, pattern="##-##"),
        )
    assert caught.value.field == "count"
    assert caught.value.extra["space"] == 10_000 and caught.value.extra["existing"] == 1000
    assert await PromoCode.all().count() == 1000


async def test_generated_codes_take_the_campaign_code_ttl(services: Services) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id, code_ttl_days=28)
    now = datetime(2027, 3, 1, tzinfo=UTC)
    with clock.frozen_at(now):
        await generate.generate_codes(
            services,
            owner_id=dev.id,
            campaign_id=c.id,
            request=GenerateRequest(count=3, pattern="T-####"),
        )
    assert set(await PromoCode.all().values_list("expires_at", flat=True)) == {
        now + timedelta(days=28)
    }


async def test_a_generation_draws_on_the_developers_upload_rate_limit(db: Settings) -> None:
    limited = bootstrap(db.model_copy(update={"rate_limit_upload": "2/minute"}))
    try:
        dev, _ = await factories.developer()
        c = await factories.campaign(dev.id)
        await uploads.admit_upload(limited, developer_id=dev.id, campaign_id=c.id)
        await generate.generate_codes(
            limited,
            owner_id=dev.id,
            campaign_id=c.id,
            request=GenerateRequest(count=5, pattern="R-####"),
        )
        with pytest.raises(RateLimited):
            await generate.generate_codes(
                limited,
                owner_id=dev.id,
                campaign_id=c.id,
                request=GenerateRequest(count=5, pattern="S-####"),
            )
        assert await PromoCode.all().count() == 5
        assert await Upload.all().count() == 1  # the refused one opened no record
    finally:
        await limited.close()
