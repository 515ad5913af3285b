"""Code expiry: claims pass over expired codes, sold out counts only live codes, the CSV
`expires_at` column, the campaign's code TTL, the sweep, the counts, the daily notice, archival.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from domain import analytics, archive, campaigns, claims, clock, codes, events, expiry
from domain.adapters.storage import LocalObjectStore
from domain.errors import SoldOut
from domain.lifecycle import advance_campaigns
from domain.models import ArchivedCode, PromoCode
from domain.settings import Settings
from domain.values import CampaignStatus, Claimant
from tests import factories
from tests.scheduler.conftest import RecordingEvents

NOW = datetime(2027, 3, 10, 12, 0, tzinfo=UTC)


def _csv(rows: list[tuple[str, str]]) -> str:
    return "code,expires_at\n" + "".join(f"{code},{when}\n" for code, when in rows)


async def _claim(campaign_id: str, who: str) -> str:
    result = await claims.claim(
        events_bus=factories.BUS,
        campaign_id=campaign_id,
        claimant=Claimant.of("web", who),
        channel="web",
    )
    return result.code


async def test_a_claim_passes_over_a_code_that_expired_before_the_sweep(db: Settings) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    with clock.frozen_at(NOW - timedelta(days=2)):
        await factories.upload_codes(
            dev.id,
            c.id,
            _csv(
                [("OLD-0001", "2027-03-10T11:00:00Z"), ("NEW-0001", "2027-04-01"), ("NONE-01", "")]
            ),
        )
    with clock.frozen_at(NOW):
        got = {await _claim(c.id, "ann"), await _claim(c.id, "bob")}
        assert got == {"NEW-0001", "NONE-01"}
        with pytest.raises(SoldOut):
            await _claim(c.id, "cy")
    # the expired code was never touched by a claim
    old = await PromoCode.get(code="OLD-0001")
    assert (old.status, old.claimant) == ("available", None)


async def test_a_campaign_with_only_expired_codes_left_is_sold_out(db: Settings) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    other = await factories.campaign(dev.id, name="other")
    with clock.frozen_at(NOW - timedelta(days=1)):
        await factories.upload_codes(
            dev.id, c.id, _csv([("GONE-001", "2027-03-10T00:00:00"), ("GONE-002", "2027-03-09")])
        )
        await factories.upload_codes(dev.id, other.id, _csv([("LATE-001", "2027-03-10T00:00:00")]))
    with clock.frozen_at(NOW):
        with pytest.raises(SoldOut):
            await _claim(c.id, "ann")
        assert (await campaigns.get_campaign(owner_id=dev.id, campaign_id=c.id)).status == (
            CampaignStatus.COMPLETED
        )
        # the lifecycle tick sees the same: no claim was needed to complete `other`
        result = await advance_campaigns(
            events_bus=factories.BUS,
        )
        row = await campaigns.owned(owner_id=dev.id, campaign_id=c.id)
        assert await claims.available_count(row.id, at_most=5) == 0
    # a day earlier both codes were still good
    with clock.frozen_at(NOW - timedelta(days=1)):
        assert await claims.available_count(row.id, at_most=5) == 2
    assert result.sold_out == [other.id]


async def test_the_csv_expires_at_column_takes_dates_and_datetimes_and_reports_bad_values(
    db: Settings,
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    report = await factories.upload_codes(
        dev.id,
        c.id,
        "code,platform,expires_at\n"
        "DAY-0001,,2027-01-31\n"
        "ZONE-001,,2027-01-31T18:30:00+02:00\n"
        "NAIVE-01,,2027-01-31 18:30\n"
        "BAD-0001,,31/01/2027\n"
        "BAD-0002,,2027-02-30\n"
        "NEVER-01,,\n",
    )
    assert (report.imported, report.invalid) == (4, 2)
    bad = {p.line: p.reason for p in report.errors}
    assert set(bad) == {5, 6}
    assert bad[5].startswith("expires_at '31/01/2027': not an ISO 8601 date or date-time")
    assert "expires_at '2027-02-30'" in bad[6]
    stored = {r.code: r.expires_at for r in await PromoCode.filter(campaign_id__isnull=False).all()}
    assert stored["DAY-0001"] == datetime(2027, 2, 1, tzinfo=UTC)  # good through that day
    assert stored["ZONE-001"] == datetime(2027, 1, 31, 16, 30, tzinfo=UTC)
    assert stored["NAIVE-01"] == datetime(2027, 1, 31, 18, 30, tzinfo=UTC)
    assert stored["NEVER-01"] is None


async def test_a_plain_one_code_per_line_file_still_imports_without_expiry(db: Settings) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    report = await factories.upload_codes(dev.id, c.id, "PLAIN-001\nPLAIN-002\n")
    assert report.imported == 2
    assert await PromoCode.filter(expires_at__isnull=False).count() == 0


async def test_the_campaign_code_ttl_applies_at_import_and_a_row_date_wins(db: Settings) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id, code_ttl_days=28)
    assert c.code_ttl_days == 28
    with clock.frozen_at(NOW):
        await factories.upload_codes(
            dev.id, c.id, _csv([("TTL-0001", ""), ("OWN-0001", "2027-03-12T00:00:00Z")])
        )
    stored = dict(await PromoCode.all().values_list("code", "expires_at"))
    assert stored["TTL-0001"] == NOW + timedelta(days=28)
    assert stored["OWN-0001"] == datetime(2027, 3, 12, tzinfo=UTC)
    with pytest.raises(Exception, match="code_ttl_days must be 1-3650"):
        await campaigns.update_campaign(
            events_bus=factories.BUS,
            owner_id=dev.id,
            campaign_id=c.id,
            changes={"code_ttl_days": 0},
        )


async def test_the_sweep_moves_expired_codes_apart_and_every_count_shows_them(
    db: Settings,
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    with clock.frozen_at(NOW - timedelta(days=5)):
        await factories.upload_codes(
            dev.id,
            c.id,
            _csv(
                [("EXP-0001", "2027-03-09"), ("EXP-0002", "2027-03-10T11:59:00Z"), ("LIVE-001", "")]
            ),
        )
        await _claim(c.id, "ann")  # takes EXP-0001 while it was still good
    with clock.frozen_at(NOW):
        result = await expiry.run_expiry(events_bus=None)
        again = await expiry.run_expiry(events_bus=None)
        view = await campaigns.get_campaign(owner_id=dev.id, campaign_id=c.id)
        stats = await analytics.campaign_analytics(owner_id=dev.id, campaign_id=c.id)
        listed, total = await codes.list_codes(
            owner_id=dev.id, campaign_id=c.id, secret_key="s", status="expired"
        )
    assert result.expired == {c.id: 1} and again.expired == {}
    assert (view.stock.available, view.stock.claimed, view.stock.expired) == (1, 1, 1)
    assert view.stock.total == 3
    assert (stats.available, stats.claimed, stats.expired, stats.total) == (1, 1, 1, 3)
    assert total == 1 and listed[0].expires_at == datetime(2027, 3, 10, 11, 59, tzinfo=UTC)
    # a claimed code past its date stays the claimant's
    assert (await PromoCode.get(code="EXP-0001")).status == "claimed"


async def test_the_expiring_soon_notice_is_published_once_a_day(db: Settings) -> None:
    bus = RecordingEvents()
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    quiet = await factories.campaign(dev.id, name="quiet")
    with clock.frozen_at(NOW):
        await factories.upload_codes(
            dev.id,
            c.id,
            _csv(
                [
                    ("SOON-001", "2027-03-11"),
                    ("SOON-002", "2027-03-13T11:00:00Z"),
                    ("LATER-01", "2027-03-20"),
                ]
            ),
        )
        await factories.upload_codes(dev.id, quiet.id, _csv([("FAR-0001", "2027-05-01")]))
        for minute in range(3):  # the job runs every minute
            with clock.frozen_at(NOW + timedelta(minutes=minute)):
                await expiry.run_expiry(events_bus=bus)
    [notice] = bus.named(events.EXPIRING_SOON)
    assert (notice.campaign_id, notice.owner_id) == (c.id, dev.id)
    assert notice.data["count"] == 2 and notice.data["within_days"] == 3
    assert notice.data["first_expires_at"].startswith("2027-03-12T00:00:00")

    with clock.frozen_at(NOW + timedelta(days=1)):
        await expiry.run_expiry(events_bus=bus)
    assert len(bus.named(events.EXPIRING_SOON)) == 2


async def test_archival_moves_expired_codes_and_keeps_counting_them(
    db: Settings, tmp_path: Path
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    with clock.frozen_at(NOW - timedelta(days=60)):
        await factories.upload_codes(
            dev.id, c.id, _csv([("OLD-EXP1", "2027-01-10"), ("NEW-EXP1", "2027-03-01")])
        )
    with clock.frozen_at(NOW):
        await expiry.run_expiry(events_bus=None)
        result = await archive.archive_used_codes(
            store=LocalObjectStore(tmp_path), older_than=timedelta(days=30)
        )
        view = await campaigns.get_campaign(owner_id=dev.id, campaign_id=c.id)
    assert result.moved == 1
    [row] = await ArchivedCode.all()
    assert (row.code, row.status, row.expires_at) == (
        "OLD-EXP1",
        "expired",
        datetime(2027, 1, 11, tzinfo=UTC),
    )
    assert (view.stock.expired, view.stock.archived, view.stock.used) == (2, 0, 0)
    [csv_row] = await archive.read_archive_csv(LocalObjectStore(tmp_path), result.object_keys[0])
    assert (csv_row["status"], csv_row["code"]) == ("expired", "OLD-EXP1")
    # an archived expired code is still the campaign's: it is never imported again
    report = await factories.upload_codes(dev.id, c.id, "OLD-EXP1\n")
    assert report.duplicates == 1
