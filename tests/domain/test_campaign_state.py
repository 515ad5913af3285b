"""domain.campaign_state: one decision for open or closed, one table for every status move,
and what `archived` means, on SQLite and MariaDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain import campaign_state, campaigns, claims, events
from domain.adapters.bootstrap import Services
from domain.campaign_state import (
    TRANSITIONS,
    Action,
    CampaignArchived,
    Openness,
    TransitionRefused,
    action_to,
    check_open,
    openness,
    owner_state,
    public_state,
)
from domain.clock import frozen_at
from domain.errors import (
    CampaignEnded,
    CampaignNotActive,
    CampaignNotStarted,
    ClaimRefused,
    SoldOut,
    ValidationFailed,
)
from domain.models import Campaign
from domain.values import CampaignStatus, Claimant
from tests import factories
from tests.scheduler.conftest import RecordingEvents

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)

# (status, completed_reason, starts_at, ends_at) -> what claims, members and owners are told
CASES = [
    (("active", None, None, None), Openness.OPEN, None, "open", "active"),
    (
        ("active", None, NOW + HOUR, None),
        Openness.NOT_STARTED,
        CampaignNotStarted,
        "not_started",
        "not_started",
    ),
    (("active", None, NOW - HOUR, NOW), Openness.ENDED, CampaignEnded, "ended", "ended"),
    (("paused", None, None, NOW - HOUR), Openness.PAUSED, CampaignNotActive, "paused", "paused"),
    (("draft", None, None, None), Openness.UNPUBLISHED, CampaignNotActive, "not_started", "draft"),
    # sold out and restocked since (5 codes below), not reopened yet: members read "ended"
    (("completed", "sold_out", None, None), Openness.SOLD_OUT, SoldOut, "ended", "sold_out"),
    (("completed", "ended", None, None), Openness.ENDED, CampaignEnded, "ended", "ended"),
    (("completed", None, None, None), Openness.ENDED, CampaignEnded, "ended", "ended"),
    (("archived", "sold_out", None, None), Openness.SOLD_OUT, SoldOut, "ended", "archived"),
    (("archived", None, None, None), Openness.ENDED, CampaignEnded, "ended", "archived"),
]


@pytest.mark.parametrize(("row", "decided", "refusal", "member", "owner"), CASES)
def test_claims_cards_and_owners_follow_the_one_open_closed_decision(
    row: tuple[str, str | None, datetime | None, datetime | None],
    decided: Openness,
    refusal: type[ClaimRefused] | None,
    member: str,
    owner: str,
) -> None:
    status, reason, starts_at, ends_at = row
    c = Campaign(status=status, completed_reason=reason, starts_at=starts_at, ends_at=ends_at)

    assert openness(c, NOW) is decided
    if refusal is None:
        check_open(c, NOW)
    else:
        with pytest.raises(refusal):
            check_open(c, NOW)
    assert public_state(c, 5, NOW) == member
    assert owner_state(c, 5, 10, NOW) == owner


def test_stock_shades_what_members_and_owners_see_of_an_open_campaign() -> None:
    c = Campaign(status="active")
    assert (public_state(c, 0, NOW), owner_state(c, 0, 10, NOW)) == ("sold_out", "sold_out")
    # no code uploaded yet: the owner sees it active, a member sees nothing to claim
    assert (public_state(c, 0, NOW), owner_state(c, 0, 0, NOW)) == ("sold_out", "active")
    # sold out, then restocked but not reopened yet
    restocked = Campaign(status="completed", completed_reason="sold_out")
    assert public_state(restocked, 3, NOW) == "ended"


def test_a_requested_status_maps_to_the_one_action_of_the_table() -> None:
    for (source, action), target in TRANSITIONS.items():
        assert action_to(source, target) is action
    with pytest.raises(TransitionRefused, match="cannot become draft; possible now: paused"):
        action_to(CampaignStatus.ACTIVE, CampaignStatus.DRAFT)
    with pytest.raises(TransitionRefused, match="takes no further changes"):
        action_to(CampaignStatus.ARCHIVED, CampaignStatus.ACTIVE)


async def test_a_new_campaign_starts_as_draft_or_active_only(services: Services) -> None:
    dev, _ = await factories.developer()
    for status in ("draft", "active"):
        assert (await factories.campaign(dev.id, status=status)).status == status
    for status in ("paused", "completed", "archived"):
        with pytest.raises(ValidationFailed, match="starts as draft or active") as caught:
            await factories.campaign(dev.id, status=status)
        assert caught.value.extra.get("field") == "status"


async def test_a_status_change_asked_as_a_field_goes_through_the_table(
    services: Services,
) -> None:
    bus = RecordingEvents()
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)

    async def change(status: str) -> str:
        view = await campaigns.update_campaign(
            owner_id=dev.id, campaign_id=c.id, changes={"status": status}, events_bus=bus
        )
        return view.status

    assert await change("paused") == "paused"
    with pytest.raises(TransitionRefused, match="cannot become draft"):
        await change("draft")
    with pytest.raises(TransitionRefused, match="cannot become archived"):
        await change("archived")
    assert await change("completed") == "completed"
    assert await change("active") == "active"  # reopen

    moves = [
        (e.data["from"], e.data["to"], e.data["reason"])
        for e in bus.named(events.CAMPAIGN_STATUS_CHANGED)
    ]
    assert moves == [
        ("active", "paused", "owner"),
        ("paused", "completed", "owner"),
        ("completed", "active", "owner"),
    ]


async def test_an_archived_campaign_takes_no_change_and_leaves_the_default_listing(
    services: Services,
) -> None:
    from domain import uploads

    dev, _ = await factories.developer()
    kept = await factories.campaign(dev.id, name="Kept")
    c = await factories.campaign(dev.id, name="Old")
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(2))
    for action in (Action.END, Action.ARCHIVE):
        await campaigns.act(
            developer_id=dev.id, campaign_id=c.id, action=action, events_bus=factories.BUS
        )

    with pytest.raises(CampaignArchived):
        await campaigns.update_campaign(
            owner_id=dev.id, campaign_id=c.id, changes={"name": "New"}, events_bus=factories.BUS
        )
    with pytest.raises(TransitionRefused, match="takes no further changes"):
        await campaigns.act(
            developer_id=dev.id, campaign_id=c.id, action=Action.REOPEN, events_bus=factories.BUS
        )
    with pytest.raises(CampaignArchived):
        await uploads.admit_upload(services, developer_id=dev.id, campaign_id=c.id)
    with pytest.raises(CampaignEnded):
        await claims.claim(
            campaign_id=c.id,
            claimant=Claimant.of("web", "late"),
            channel="web",
            events_bus=factories.BUS,
        )

    listed, total = await campaigns.list_campaigns(owner_id=dev.id)
    assert [v.id for v in listed] == [kept.id] and total == 1
    archived, _ = await campaigns.list_campaigns(owner_id=dev.id, status="archived")
    assert [(v.id, v.state) for v in archived] == [(c.id, "archived")]
    assert (await campaigns.get_campaign(owner_id=dev.id, campaign_id=c.id)).name == "Old"


async def test_a_reopen_past_the_end_is_refused_unless_the_same_change_moves_the_end(
    services: Services,
) -> None:
    dev, _ = await factories.developer()
    with frozen_at(NOW - 2 * HOUR):
        c = await factories.campaign(dev.id, ends_at=NOW - HOUR)
        await campaigns.act(
            developer_id=dev.id, campaign_id=c.id, action=Action.END, events_bus=factories.BUS
        )
    with frozen_at(NOW):
        with pytest.raises(TransitionRefused, match="end time has passed"):
            await campaigns.act(
                developer_id=dev.id,
                campaign_id=c.id,
                action=Action.REOPEN,
                events_bus=factories.BUS,
            )
        view = await campaigns.update_campaign(
            owner_id=dev.id,
            campaign_id=c.id,
            changes={"status": "active", "ends_at": NOW + HOUR},
            events_bus=factories.BUS,
        )
    assert (view.status, view.ends_at) == ("active", NOW + HOUR)


async def test_a_status_move_is_made_once_when_two_callers_race(services: Services) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    row = await Campaign.get(public_id=c.id)
    bus = factories.BUS

    first = await campaign_state.mark_sold_out(row, bus)
    second = await campaign_state.mark_sold_out(row, bus)

    assert (first, second) == (True, False)
    fresh = await Campaign.get(public_id=c.id)
    assert (fresh.status, fresh.completed_reason) == ("completed", "sold_out")
    assert await campaign_state.reopen_if_sold_out(fresh, NOW.replace(year=2020))
    assert not await campaign_state.reopen_if_sold_out(fresh, NOW.replace(year=2020))
    assert (await Campaign.get(public_id=c.id)).status == "active"
