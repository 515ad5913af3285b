"""Members claim through the real aiogram bot, long-polling the fake Bot API server."""

from __future__ import annotations

import asyncio
import time

from tortoise.transactions import in_transaction

from bots.telegram.app import TelegramFront
from domain import campaigns, claims
from domain.adapters.bootstrap import Services
from domain.claims.sql import dialect
from domain.models import Campaign, Claim
from tests import factories
from tests.bots.telegram.support import buttons, callback, code_in
from tests.fakes.telegram import FakeTelegram


async def test_the_deep_link_shows_the_card_and_the_button_delivers_a_code_privately(
    bot: TelegramFront, tg: FakeTelegram
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(
        dev.id, name="Launch <week>", description="Beta keys", platform="ios"
    )
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(3))
    alice = tg.user(1001, "Alice")

    tg.send_text(alice, f"/start {c.id}")
    card = (await tg.wait_for(lambda: tg.sent_to(alice.id)))[0]
    assert "<b>Launch &lt;week&gt;</b>" in card["text"]
    assert "Beta keys" in card["text"] and "3 codes left" in card["text"]
    assert code_in(card["text"]) is None

    tg.press(alice, card, callback(card, "Get my code"))
    reply = (await tg.wait_for(lambda: tg.sent_to(alice.id)[1:]))[0]
    code = code_in(reply["text"])
    assert code is not None and code.startswith("CODE")
    assert f"https://apps.apple.com/redeem?code={code}" in reply["text"]
    await tg.wait_for(lambda: len(tg.answered()) == 1)

    held = await claims.my_codes(claimant_key=f"telegram:{alice.id}")
    assert [(h.code, h.campaign_id) for h in held] == [(code, c.id)]
    assert (await Claim.get(code=code)).channel == "telegram"


async def test_a_group_never_receives_a_code_only_a_button_into_the_private_chat(
    bot: TelegramFront, tg: FakeTelegram
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(5))
    group = tg.group(-1001, "Players")
    bob = tg.user(1002, "Bob")

    tg.send_text(bob, f"/claim@{tg.bot_username} {c.id}", chat=group)
    tg.send_text(bob, f"/start {c.id}", chat=group)
    tg.send_text(bob, "/mycodes", chat=group)
    replies = await tg.wait_for(lambda: len(tg.sent_to(group.id)) == 3 and tg.sent_to(group.id))
    for reply in replies:
        assert code_in(reply["text"]) is None
        assert next(b.get("url") for b in buttons(reply)).startswith(
            f"https://t.me/{tg.bot_username}"
        )
    assert buttons(replies[0])[0]["url"] == f"https://t.me/{tg.bot_username}?start={c.id}"
    # a claim button pressed on a message in a group opens the private chat instead
    fake_card = tg.text_message(bob, group, "card")
    fake_card["reply_markup"] = {
        "inline_keyboard": [[{"text": "Get my code", "callback_data": f"claim:{c.id}:"}]]
    }
    tg.press(bob, fake_card, f"claim:{c.id}:")
    answer = (await tg.wait_for(lambda: tg.answered()))[0]
    assert answer.params["url"] == f"https://t.me/{tg.bot_username}?start={c.id}"
    assert await Claim.filter(claimant=f"telegram:{bob.id}").count() == 0
    assert all(code_in(m["text"]) is None for m in tg.sent_to(group.id))
    assert tg.sent_to(bob.id) == []


async def test_fifty_members_pressing_at_once_over_twenty_codes_get_twenty_codes_and_thirty_sold_outs(
    bot: TelegramFront, tg: FakeTelegram
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(20))
    members = [tg.user(5000 + i, f"M{i}") for i in range(50)]
    for m in members:
        tg.send_text(m, f"/start {c.id}")
    await tg.wait_for(lambda: all(tg.sent_to(m.id) for m in members))
    cards = [tg.sent_to(m.id)[0] for m in members]

    # all fifty presses arrive in one getUpdates batch; aiogram handles them concurrently
    for m, card in zip(members, cards, strict=True):
        tg.press(m, card, callback(card))
    await tg.wait_for(
        lambda: len(tg.answered()) == 50 and all(len(tg.sent_to(m.id)) == 2 for m in members)
    )

    replies = [tg.sent_to(m.id)[1]["text"] for m in members]
    codes = [code_in(r) for r in replies if code_in(r)]
    sold_out = [r for r in replies if "all codes have been handed out" in r]
    assert len(codes) == 20 and len(set(codes)) == 20
    assert len(sold_out) == 30
    assert await Claim.filter(campaign__public_id=c.id).count() == 20
    view = await campaigns.get_campaign(owner_id=dev.id, campaign_id=c.id)
    assert view.status == "completed" and view.stock.available == 0


async def test_a_double_tap_gives_one_code_and_answers_both_presses(
    bot: TelegramFront, tg: FakeTelegram
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(5))
    carol = tg.user(1003, "Carol")
    tg.send_text(carol, f"/start {c.id}")
    card = (await tg.wait_for(lambda: tg.sent_to(carol.id)))[0]

    tg.press(carol, card, callback(card))
    tg.press(carol, card, callback(card))
    await tg.wait_for(lambda: len(tg.sent_to(carol.id)) == 3 and len(tg.answered()) == 2)

    first, second = (code_in(m["text"]) for m in tg.sent_to(carol.id)[1:])
    assert first is not None and first == second
    assert await Claim.filter(claimant=f"telegram:{carol.id}").count() == 1
    assert (await campaigns.public_card(campaign_id=c.id)).codes_left == 4


async def test_a_campaign_with_several_platforms_asks_which_before_claiming(
    bot: TelegramFront, tg: FakeTelegram
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id, platform="universal")
    await factories.upload_codes(
        dev.id, c.id, "code,platform\nIOSCODE1,ios\nIOSCODE2,ios\nDROIDCODE1,android\n"
    )
    dan = tg.user(1004, "Dan")
    tg.send_text(dan, f"/start {c.id}")
    card = (await tg.wait_for(lambda: tg.sent_to(dan.id)))[0]
    assert [b["text"] for b in buttons(card)] == ["Android", "iOS"]

    tg.press(dan, card, callback(card, "Android"))
    reply = (await tg.wait_for(lambda: tg.sent_to(dan.id)[1:]))[0]
    assert code_in(reply["text"]) == "DROIDCODE1"
    assert "play.google.com/redeem?code=DROIDCODE1" in reply["text"]


async def test_mycodes_lists_the_codes_a_member_received(
    bot: TelegramFront, tg: FakeTelegram
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id, name="Spring drop")
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(2))
    erin = tg.user(1005, "Erin")
    tg.send_text(erin, "/mycodes")
    empty = (await tg.wait_for(lambda: tg.sent_to(erin.id)))[0]
    assert "not received any codes" in empty["text"]

    tg.send_text(erin, f"/claim {c.id}")
    got = (await tg.wait_for(lambda: tg.sent_to(erin.id)[1:]))[0]
    tg.send_text(erin, "/mycodes")
    listing = (await tg.wait_for(lambda: tg.sent_to(erin.id)[2:]))[0]
    assert "Spring drop" in listing["text"]
    assert code_in(listing["text"]) == code_in(got["text"])


async def test_a_required_channel_is_checked_and_check_again_claims_after_joining(
    bot: TelegramFront, tg: FakeTelegram
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(
        dev.id, eligibility={"required_chats": ["@launchnews"], "channels": ["telegram"]}
    )
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(2))
    tg.channel(-100500, "launchnews")
    fay = tg.user(1006, "Fay")

    tg.send_text(fay, f"/claim {c.id}")
    refusal = (await tg.wait_for(lambda: tg.sent_to(fay.id)))[0]
    assert "Join @launchnews first" in refusal["text"]
    assert code_in(refusal["text"]) is None
    assert any(b.get("url") == "https://t.me/launchnews" for b in buttons(refusal))

    tg.set_member("@launchnews", fay.id, "member")
    tg.press(fay, refusal, callback(refusal, "Check again"))
    reply = (await tg.wait_for(lambda: tg.sent_to(fay.id)[1:]))[0]
    assert code_in(reply["text"]) is not None
    checks = [c.params for c in tg.calls_of("getChatMember")]
    assert checks[-1] == {"chat_id": "@launchnews", "user_id": fay.id}


async def test_sold_out_offers_notify_me_and_waiting_members_are_told_when_codes_return(
    bot: TelegramFront, tg: FakeTelegram, services: Services
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id, name="Night drop")
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(1))
    first = tg.user(1007, "First")
    tg.send_text(first, f"/claim {c.id}")
    await tg.wait_for(lambda: tg.sent_to(first.id))

    waiters = [tg.user(7000 + i, f"W{i}") for i in range(30)]
    for w in waiters:
        tg.send_text(w, f"/claim {c.id}")
    await tg.wait_for(lambda: all(tg.sent_to(w.id) for w in waiters))
    for w in waiters:
        sold_out = tg.sent_to(w.id)[0]
        assert "all codes have been handed out" in sold_out["text"]
        tg.press(w, sold_out, callback(sold_out, "Notify me"))
    await tg.wait_for(lambda: all(len(tg.sent_to(w.id)) == 2 for w in waiters))
    assert "on the list" in tg.sent_to(waiters[0].id)[1]["text"]
    await tg.wait_for(lambda: len(tg.answered()) == 30)

    await factories.import_bytes(
        dev.id,
        c.id,
        factories.codes_csv(40, prefix="MORE").encode(),
        upload_max_bytes=1_000_000,
        upload_max_codes=1_000,
        services=services,
    )
    await tg.wait_for(lambda: all(len(tg.sent_to(w.id)) == 3 for w in waiters))
    await bot.drain()
    link = f"https://t.me/{tg.bot_username}?start={c.id}"
    for w in waiters:
        told = tg.sent_to(w.id)[2]
        assert "Night drop has codes again" in told["text"] and link in told["text"]
        assert buttons(told)[0]["url"] == link
    # told once each, paced under 25 messages a second
    at = sorted(
        call.at for call in tg.calls_of("sendMessage") if "codes again" in call.params["text"]
    )
    assert len(at) == 30
    assert at[25] - at[0] >= 0.9


async def test_a_429_from_telegram_delays_the_reply_but_does_not_lose_it(
    bot: TelegramFront, tg: FakeTelegram
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(2))
    gus = tg.user(1008, "Gus")
    tg.flood("sendMessage", retry_after=1, chat_id=gus.id)

    started = time.monotonic()
    tg.send_text(gus, f"/claim {c.id}")
    reply = (await tg.wait_for(lambda: tg.sent_to(gus.id)))[0]
    attempts = [call for call in tg.calls_of("sendMessage") if call.params["chat_id"] == gus.id]
    assert [a.status for a in attempts] == [429, 200]
    assert attempts[1].at - attempts[0].at >= 1.0
    assert time.monotonic() - started >= 1.0
    assert code_in(reply["text"]) is not None
    await asyncio.sleep(0)  # let a (wrong) third attempt show up if there were one
    assert len(tg.sent_to(gus.id)) == 1


async def test_a_press_is_answered_before_its_claim_finishes(
    bot: TelegramFront, tg: FakeTelegram
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(3))
    alice = tg.user(1201, "Alice")
    tg.send_text(alice, f"/start {c.id}")
    card = (await tg.wait_for(lambda: tg.sent_to(alice.id)))[0]
    campaign_pk = (await Campaign.get(public_id=c.id)).id

    # another transaction holds every code (as a drop's batches do): the claim must wait
    async with in_transaction() as conn:
        await conn.execute_query(
            dialect(conn, "UPDATE promo_codes SET status=status WHERE campaign_id=?"),
            [campaign_pk],
        )
        tg.press(alice, card, callback(card, "Get my code"))
        await tg.wait_for(lambda: len(tg.answered()) == 1)
        await asyncio.sleep(0.2)
        assert len(tg.sent_to(alice.id)) == 1  # the card only: no code yet

    reply = (await tg.wait_for(lambda: tg.sent_to(alice.id)[1:]))[0]
    assert code_in(reply["text"]) is not None
    assert len(tg.answered()) == 1  # answered once, not again after the claim
