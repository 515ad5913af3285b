"""The importer's counting across batches: every row counted once, duplicates found by line."""

from __future__ import annotations

from domain.adapters.bootstrap import Services
from tests import factories


async def test_duplicates_across_batches_are_found_without_keeping_every_code(
    services: Services,
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    await factories.upload_codes(dev.id, c.id, "code\nOLD00001\n")
    text = "code\nAAAA0001\nAAAA0002\nAAAA0003\nAAAA0001\nOLD00001\nAAAA0003\nAAAA0004\n"
    report = await factories.import_bytes(
        dev.id,
        c.id,
        text.encode(),
        upload_max_bytes=10_000,
        upload_max_codes=100,
        upload_batch_size=2,
    )
    assert (report.rows, report.imported, report.duplicates, report.invalid) == (7, 4, 3, 0)
    reasons = {p.line: p.reason for p in report.errors}
    assert reasons == {
        5: "duplicate of an earlier line",
        6: "already in the campaign",
        7: "duplicate of an earlier line",
    }


async def test_codes_over_the_per_upload_limit_are_refused_by_line(services: Services) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    report = await factories.import_bytes(
        dev.id,
        c.id,
        factories.codes_csv(5).encode(),
        upload_max_bytes=10_000,
        upload_max_codes=3,
    )
    assert (report.imported, report.invalid) == (3, 2)
    assert [p.line for p in report.errors] == [5, 6]


async def test_a_used_and_archived_code_is_never_imported_again(services: Services) -> None:
    from datetime import timedelta

    from domain import archive, claims, clock, codes
    from domain.values import Claimant

    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    await factories.upload_codes(dev.id, c.id, "code\nAAAA1111\n")
    await claims.claim(
        events_bus=factories.BUS,
        campaign_id=c.id,
        claimant=Claimant.of("web", "alice"),
        channel="web",
    )
    await codes.mark_used(owner_id=dev.id, campaign_id=c.id, codes=["AAAA1111"])
    with clock.frozen_at(clock.now() + timedelta(days=31)):
        await archive.archive_used_codes(store=services.store, older_than=timedelta(days=30))
    again = await factories.upload_codes(dev.id, c.id, "code\nAAAA1111\n")
    assert (again.imported, again.duplicates) == (0, 1)
    assert again.errors[0].reason == "already in the campaign"


async def test_platform_and_metadata_are_stored_exactly_whatever_their_characters(
    services: Services,
) -> None:
    from domain.models import PromoCode

    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id, platform="universal")
    awkward = [
        "O'Brien; DROP TABLE promo_codes; --",
        'say "hi" \\ back\\slash',
        "naïve ünïcode ✓ 中文",
        "percent %s %(x)s and ? marks",
    ]
    lines = ["code,platform,metadata"]
    for n, meta in enumerate(awkward):
        quoted = '"' + meta.replace('"', '""') + '"'
        lines.append(f"META{n:04d},{'ios' if n % 2 else 'android'},{quoted}")
    lines.append("META9999,,")
    report = await factories.upload_codes(dev.id, c.id, "\n".join(lines) + "\n")
    assert (report.imported, report.invalid) == (5, 0), report.errors
    stored = {
        code: (platform, metadata)
        for code, platform, metadata in await PromoCode.filter(
            campaign__public_id=c.id
        ).values_list("code", "platform", "metadata")
    }
    assert stored == {
        **{f"META{n:04d}": ("ios" if n % 2 else "android", meta) for n, meta in enumerate(awkward)},
        "META9999": ("", None),
    }


async def _refusal(services: Services, data: bytes) -> tuple[str, int]:
    """The whole-file refusal of `data`, and how many codes the campaign holds after it."""
    from domain.errors import InvalidCSV
    from domain.models import PromoCode

    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    try:
        await factories.import_bytes(
            dev.id,
            c.id,
            data,
            upload_max_bytes=16 * 1024 * 1024,
            upload_max_codes=100_000,
        )
    except InvalidCSV as exc:
        held = await PromoCode.filter(campaign__public_id=c.id).count()
        return exc.detail, held
    raise AssertionError("the file was accepted")


async def test_a_nul_byte_anywhere_refuses_the_whole_file_with_nothing_imported(
    services: Services,
) -> None:
    data = factories.codes_csv(1010).encode() + b"\x00binary tail\n"
    assert len(data) > 8192
    detail, held = await _refusal(services, data)
    assert "binary" in detail and f"offset {len(data) - 13:,}" in detail
    assert held == 0


async def test_a_single_overlong_line_is_reported_as_too_long_with_its_line_number(
    services: Services,
) -> None:
    detail, held = await _refusal(services, b"A" * (2 * 1024 * 1024) + b"\n")
    assert detail.startswith("Line 1: line too long (2,097,153 bytes, at most 65,536)")
    assert held == 0


async def test_a_header_of_a_million_columns_is_refused_as_such(services: Services) -> None:
    header = b",".join(b"c" for _ in range(1_000_000))
    detail, _ = await _refusal(services, header + b"\nAAAA-1,x\n")
    assert detail == "Line 1: a header of 1,000,000 columns (at most 100)."


async def test_an_overlong_line_among_good_ones_is_reported_and_the_rest_imports(
    services: Services,
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    text = b"code\nAAAA-0001\n" + b"B" * 100_000 + b"\nAAAA-0002\n"
    report = await factories.import_bytes(
        dev.id,
        c.id,
        text,
        upload_max_bytes=1_000_000,
        upload_max_codes=100,
    )
    assert (report.rows, report.imported, report.invalid) == (3, 2, 1)
    assert [(p.line, p.reason) for p in report.errors] == [
        (3, "line too long (100,001 bytes, at most 65,536)")
    ]
