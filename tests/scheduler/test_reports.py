"""Daily reports: counts per campaign/channel/platform, stock left, CSV, one delivery."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from domain import campaigns, claims, developers
from domain.adapters.bootstrap import Services
from domain.campaign_state import Action
from domain.clock import frozen_at
from domain.reports import (
    ReportNotFound,
    get_report,
    list_reports,
    report_file,
    run_daily_reports,
)
from domain.values import Claimant
from tests import factories
from tests.scheduler.conftest import RecordingEvents, RecordingNotifier

DAY = date(2026, 5, 10)
RUN_AT = datetime(2026, 5, 11, 6, 5, tzinfo=UTC)


async def _claims_on(campaign_id: str, at: datetime, channel: str, n: int, prefix: str) -> None:
    with frozen_at(at):
        for i in range(n):
            await claims.claim(
                events_bus=factories.BUS,
                campaign_id=campaign_id,
                claimant=Claimant.of(channel if channel != "api" else "web", f"{prefix}{i}"),
                channel=channel,
            )


async def test_a_developer_gets_yesterdays_report_in_their_chat_and_as_csv(
    recorded: tuple[Services, RecordingEvents],
) -> None:
    svc, _ = recorded
    dev, _ = await developers.register_via_chat(
        provider="telegram", external_id="1001", name="Ada", chat_id="5001"
    )
    with frozen_at(datetime(2026, 5, 1, tzinfo=UTC)):
        launch = await factories.campaign(dev.id, name="Launch", platform="universal")
        await factories.campaign(dev.id, name="Quiet")
        await factories.upload_codes(dev.id, launch.id, factories.codes_csv(100, "L"))
    other, _ = await factories.developer("Other")
    with frozen_at(datetime(2026, 5, 1, tzinfo=UTC)):
        await factories.campaign(other.id, name="Not Ada's")

    await _claims_on(launch.id, datetime(2026, 5, 7, 12, tzinfo=UTC), "web", 4, "early")
    await _claims_on(launch.id, datetime(2026, 5, 10, 0, 0, tzinfo=UTC), "telegram", 6, "t")
    await _claims_on(launch.id, datetime(2026, 5, 10, 23, 59, tzinfo=UTC), "discord", 4, "d")
    await _claims_on(launch.id, datetime(2026, 5, 11, 0, 0, tzinfo=UTC), "web", 1, "today")

    telegram = RecordingNotifier("telegram")
    discord = RecordingNotifier("discord")
    with frozen_at(RUN_AT):
        result = await run_daily_reports(store=svc.store, notifiers=[telegram, discord])

    assert result.period == "2026-05-10"
    assert (result.created, result.delivered, result.undelivered) == (2, 1, 1)
    [(chat_id, text)] = telegram.sent
    assert chat_id == "5001" and discord.sent == []
    assert "Daily report for 2026-05-10 (UTC): 10 claims in 2 campaign(s)." in text
    # 14 claims in the 7 days up to the end of the day: 2/day; 85 left now -> 42.5 days
    assert "• Launch: 10 claims (telegram 6, discord 4), 85 codes left, about 42.5 days" in text
    assert "• Quiet: 0 claims, 0 codes left." in text

    [report] = await list_reports(developer_id=dev.id)
    assert report.period == "2026-05-10"
    lines = {line["name"]: line for line in report.summary["campaigns"]}
    assert lines["Launch"]["by_channel"] == {"telegram": 6, "discord": 4}
    assert lines["Launch"]["by_platform"] == {"universal": 10}
    assert report.summary["delivered_to"] == ["telegram"]
    name, stream = await report_file(developer_id=dev.id, report_id=report.id, store=svc.store)
    csv_text = b"".join([chunk async for chunk in stream]).decode()
    assert name == "codedrop-report-2026-05-10.csv"
    assert csv_text.splitlines()[0].startswith("campaign_id,campaign,status,claims")
    assert f"{launch.id},Launch,active,10,telegram:6 discord:4,universal:10,85,2.0,42.5" in (
        csv_text
    )


async def test_a_second_run_for_the_same_day_writes_and_sends_nothing_more(
    recorded: tuple[Services, RecordingEvents],
) -> None:
    svc, _ = recorded
    dev, _ = await developers.register_via_chat(
        provider="discord", external_id="77", name="Bo", chat_id="dm-77"
    )
    await factories.campaign(dev.id)
    notifier = RecordingNotifier("discord")
    with frozen_at(RUN_AT):
        first = await run_daily_reports(store=svc.store, notifiers=[notifier])
        second = await run_daily_reports(store=svc.store, notifiers=[notifier])

    assert (first.created, second.created, second.skipped) == (1, 0, 1)
    assert len(notifier.sent) == 1
    assert len(await list_reports(developer_id=dev.id)) == 1


async def test_reports_are_private_to_their_developer(
    recorded: tuple[Services, RecordingEvents],
) -> None:
    svc, _ = recorded
    dev, _ = await factories.developer("Owner")
    stranger, _ = await factories.developer("Stranger")
    await factories.campaign(dev.id)
    with frozen_at(RUN_AT):
        await run_daily_reports(store=svc.store, notifiers=[])
    [report] = await list_reports(developer_id=dev.id)

    assert await list_reports(developer_id=stranger.id) == []
    with pytest.raises(ReportNotFound):
        await get_report(developer_id=stranger.id, report_id=report.id)
    with pytest.raises(ReportNotFound):
        await report_file(developer_id=stranger.id, report_id=report.id, store=svc.store)


async def test_completed_campaigns_are_reported_only_for_days_with_claims(
    recorded: tuple[Services, RecordingEvents],
) -> None:
    svc, _ = recorded
    dev, _ = await factories.developer()
    with frozen_at(RUN_AT - timedelta(days=30)):
        c = await factories.campaign(dev.id)
        await factories.upload_codes(dev.id, c.id, factories.codes_csv(3))
    await _claims_on(c.id, RUN_AT - timedelta(hours=12), "web", 1, "w")
    await campaigns.act(
        events_bus=factories.BUS, developer_id=dev.id, campaign_id=c.id, action=Action.END
    )

    with frozen_at(RUN_AT):
        reported = await run_daily_reports(store=svc.store, notifiers=[])
    with frozen_at(RUN_AT + timedelta(days=1)):
        next_day = await run_daily_reports(store=svc.store, notifiers=[])

    assert (reported.created, next_day.created) == (1, 0)
