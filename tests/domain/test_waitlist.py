"""The waitlist rule both bots share: when members are told, and that every waiter is reached."""

from __future__ import annotations

from domain import campaigns, events, waitlist
from domain.campaign_state import Action
from domain.events import Event
from domain.values import Claimant
from tests import factories


async def waiting_campaign(n: int) -> tuple[int, str]:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id, waitlist_enabled=True)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(1))
    for i in range(n):
        await waitlist.join(
            campaign_id=c.id,
            claimant=Claimant.of("telegram", 1000 + i),
            channel="telegram",
            contact=str(1000 + i),
        )
    await waitlist.join(
        campaign_id=c.id, claimant=Claimant.of("discord", 7), channel="discord", contact="7"
    )
    return dev.id, c.id


async def test_each_waiting_pages_through_every_waiter_of_the_channel_once(db: None) -> None:
    _, cid = await waiting_campaign(7)
    seen = [
        w.contact async for w in waitlist.each_waiting(campaign_id=cid, channel="telegram", page=3)
    ]
    assert seen == [str(1000 + i) for i in range(7)]


async def test_each_waiting_ends_even_when_the_caller_marks_nobody(db: None) -> None:
    _, cid = await waiting_campaign(4)
    first = [w.id async for w in waitlist.each_waiting(campaign_id=cid, channel="telegram", page=2)]
    for entry_id in first[:2]:
        assert await waitlist.mark_notified(entry_id=entry_id)
        assert not await waitlist.mark_notified(entry_id=entry_id)  # never twice
    rest = [w.id async for w in waitlist.each_waiting(campaign_id=cid, channel="telegram", page=2)]
    assert len(first) == 4 and rest == first[2:]


async def test_a_restock_or_a_reopening_is_due_for_notice_only_while_the_campaign_is_open(
    db: None,
) -> None:
    owner_id, cid = await waiting_campaign(1)

    def event(name: str, **data: object) -> Event:
        return Event(name=name, campaign_id=cid, owner_id=owner_id, data=dict(data))

    assert await waitlist.due_for_notice(event=event(events.CODES_RESTOCKED))
    assert await waitlist.due_for_notice(event=event(events.CAMPAIGN_STATUS_CHANGED, to="active"))
    assert not await waitlist.due_for_notice(
        event=event(events.CAMPAIGN_STATUS_CHANGED, to="paused")
    )
    assert not await waitlist.due_for_notice(event=event(events.LOW_STOCK))

    await campaigns.act(
        events_bus=factories.BUS, developer_id=owner_id, campaign_id=cid, action=Action.PAUSE
    )
    assert not await waitlist.due_for_notice(event=event(events.CODES_RESTOCKED))
    gone = Event(name=events.CODES_RESTOCKED, campaign_id="cmp_nothere", owner_id=owner_id)
    assert not await waitlist.due_for_notice(event=gone)
