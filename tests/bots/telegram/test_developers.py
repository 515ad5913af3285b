"""Developers run campaigns from the chat: registration, uploads, control, ownership, posts."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bots.telegram.app import TelegramFront
from domain import campaigns, claims, developers
from domain.adapters.bootstrap import Services
from domain.values import Claimant
from tests import factories
from tests.bots.telegram.conftest import front_services, running
from tests.bots.telegram.support import buttons, callback, code_in
from tests.fakes.telegram import FakeTelegram, FakeUser

BAD_CSV = b"code\nGOODCODE1\nGOODCODE2\nGOODCODE1\nbad code!\n"


async def register(tg: FakeTelegram, user: FakeUser) -> int:
    """/register through the bot; returns the developer id."""
    before = len(tg.sent_to(user.id))
    tg.send_text(user, "/register")
    await tg.wait_for(lambda: len(tg.sent_to(user.id)) > before)
    dev = await developers.developer_for_identity(provider="telegram", external_id=str(user.id))
    assert dev is not None
    return dev.id


async def say(tg: FakeTelegram, user: FakeUser, text: str) -> dict:
    """Send a text and return the bot's next message to that user."""
    before = len(tg.sent_to(user.id))
    tg.send_text(user, text)
    return (await tg.wait_for(lambda: tg.sent_to(user.id)[before:]))[0]


async def test_register_shows_an_api_key_once_and_only_in_private(
    bot: TelegramFront, tg: FakeTelegram
) -> None:
    hana = tg.user(2001, "Hana")
    group = tg.group(-2001)
    in_group = None
    tg.send_text(hana, "/register", chat=group)
    in_group = (await tg.wait_for(lambda: tg.sent_to(group.id)))[0]
    assert "private chat" in in_group["text"] and "cdk_" not in in_group["text"]

    first = await say(tg, hana, "/register")
    key = code_in(first["text"])
    assert key is not None and key.startswith("cdk_")
    assert (await developers.authenticate(api_key=key)).name == "Hana"
    again = await say(tg, hana, "/register")
    assert "already registered" in again["text"] and "cdk_" not in again["text"]


async def test_a_csv_document_upload_imports_and_reports_with_line_numbers(
    bot: TelegramFront, tg: FakeTelegram
) -> None:
    ivan = tg.user(2002, "Ivan")
    dev_id = await register(tg, ivan)
    c = await factories.campaign(dev_id, name="Keys")

    prompt = await say(tg, ivan, f"/upload {c.id}")
    assert "Send the codes for <b>Keys</b>" in prompt["text"]
    before = len(tg.sent_to(ivan.id))
    tg.send_document(ivan, "codes.csv", BAD_CSV)
    report = (await tg.wait_for(lambda: tg.sent_to(ivan.id)[before:]))[0]["text"]
    assert "Import of codes.csv: 4 rows, 2 imported, 1 duplicates, 1 invalid." in report
    assert "line 4: duplicate of line 2 (GOODCODE1)" in report
    assert "line 5: character ' ' not allowed" in report
    assert tg.calls_of("getFile")
    assert (await campaigns.public_card(campaign_id=c.id)).codes_left == 2

    # a file sent first: the bot asks which campaign, then imports it
    before = len(tg.sent_to(ivan.id))
    tg.send_document(ivan, "more.txt", b"MORECODE1\nMORECODE2\nMORECODE3\n", mime_type="text/plain")
    pick = (await tg.wait_for(lambda: tg.sent_to(ivan.id)[before:]))[0]
    assert "Which campaign are the codes in more.txt for?" in pick["text"]
    tg.press(ivan, pick, callback(pick, "Keys"))
    done = (await tg.wait_for(lambda: tg.sent_to(ivan.id)[before + 1 :]))[0]["text"]
    assert "3 rows, 3 imported, 0 duplicates, 0 invalid" in done
    assert (await campaigns.public_card(campaign_id=c.id)).codes_left == 5

    # the same file again adds nothing
    before = len(tg.sent_to(ivan.id))
    tg.send_document(ivan, "codes.csv", BAD_CSV, caption=f"/upload {c.id}")
    again = (await tg.wait_for(lambda: tg.sent_to(ivan.id)[before:]))[0]["text"]
    assert "0 imported" in again and "already in the campaign" in again


async def test_a_sold_out_campaign_is_listed_as_sold_out_and_an_upload_says_it_reopened_it(
    bot: TelegramFront, tg: FakeTelegram, services: Services
) -> None:
    lea = tg.user(2010, "Lea")
    dev_id = await register(tg, lea)
    c = await factories.campaign(dev_id, name="Gone")
    await factories.upload_codes(dev_id, c.id, factories.codes_csv(1))
    await claims.claim(
        campaign_id=c.id,
        claimant=Claimant.of("telegram", 77),
        channel="telegram",
        events_bus=services.events,
    )
    # the owner is told, in the same word
    await tg.wait_for(
        lambda: [m for m in tg.sent_to(lea.id) if "Sold out: every code" in m["text"]]
    )
    listing = await say(tg, lea, "/campaigns")
    assert "<b>Gone</b> · Sold out · 0 of 1 left" in listing["text"]
    before = len(tg.sent_to(lea.id))
    tg.send_document(lea, "more.csv", b"code\nMORECODE9\n", caption=f"/upload {c.id}")
    report = (await tg.wait_for(lambda: tg.sent_to(lea.id)[before:]))[0]["text"]
    assert "1 imported" in report
    assert "had sold out: these codes reopened it" in report
    listing = await say(tg, lea, "/campaigns")
    assert "<b>Gone</b> · Active · 1 of 2 left" in listing["text"]


async def test_a_non_owner_cannot_manage_a_campaign(bot: TelegramFront, tg: FakeTelegram) -> None:
    owner = tg.user(2003, "Owner")
    other = tg.user(2004, "Other")
    stranger = tg.user(2005, "Stranger")
    owner_id = await register(tg, owner)
    await register(tg, other)
    c = await factories.campaign(owner_id)
    await factories.upload_codes(owner_id, c.id, factories.codes_csv(3))

    # another tenant's campaign reads exactly like an id that does not exist
    missing = "I can't find that campaign. Check the link or the id."
    for command in ("pause", "resume", "end", "stats", "upload"):
        reply = await say(tg, other, f"/{command} {c.id}")
        assert reply["text"] == missing, command
        unknown = await say(tg, other, f"/{command} cmp_doesnotexist")
        assert unknown["text"] == reply["text"], command
    before = len(tg.sent_to(other.id))
    tg.send_document(other, "codes.csv", b"code\nSNEAKY01\n", caption=f"/upload {c.id}")
    sneaky = (await tg.wait_for(lambda: tg.sent_to(other.id)[before:]))[0]
    assert sneaky["text"] == missing
    group = tg.group(-2003)
    tg.send_text(other, f"/post {c.id}", chat=group)
    posted = (await tg.wait_for(lambda: tg.sent_to(group.id)))[0]
    assert posted["text"] == missing

    not_linked = await say(tg, stranger, f"/pause {c.id}")
    assert "not linked to a developer account" in not_linked["text"]
    view = await campaigns.get_campaign(owner_id=owner_id, campaign_id=c.id)
    assert view.status == "active" and view.stock.available == 3


async def test_the_owner_pauses_resumes_ends_and_reads_stats(
    bot: TelegramFront, tg: FakeTelegram
) -> None:
    jo = tg.user(2006, "Jo")
    dev_id = await register(tg, jo)
    c = await factories.campaign(dev_id, name="Alpha")
    await factories.upload_codes(dev_id, c.id, factories.codes_csv(4))
    await claims.claim(
        events_bus=factories.BUS,
        campaign_id=c.id,
        claimant=Claimant.of("telegram", 99),
        channel="telegram",
    )
    await claims.claim(
        events_bus=factories.BUS, campaign_id=c.id, claimant=Claimant.of("web", "w1"), channel="web"
    )

    listing = await say(tg, jo, "/campaigns")
    assert "<b>Alpha</b> · Active · 2 of 4 left" in listing["text"] and c.id in listing["text"]
    stats = (await say(tg, jo, f"/stats {c.id}"))["text"]
    assert "2 available, 2 claimed" in stats and "Claims: 2, 2 in the last 24 h" in stats
    assert "telegram 1, web 1" in stats
    assert "now paused" in (await say(tg, jo, f"/pause {c.id}"))["text"]
    member = tg.user(2007, "Member")
    refused = await say(tg, member, f"/claim {c.id}")
    assert "paused" in refused["text"] and code_in(refused["text"]) is None
    assert "now active" in (await say(tg, jo, f"/resume {c.id}"))["text"]
    assert "now ended" in (await say(tg, jo, f"/end {c.id}"))["text"]
    assert "ended" in (await say(tg, member, f"/claim {c.id}"))["text"]
    usage = await say(tg, jo, "/pause")
    assert "/pause &lt;campaign id&gt;" in usage["text"]


async def test_a_link_token_links_an_existing_developer_account(
    bot: TelegramFront, tg: FakeTelegram
) -> None:
    dev, _ = await factories.developer("Studio")
    token = await developers.issue_link_token(developer_id=dev.id)
    kim = tg.user(2008, "Kim")
    reply = await say(tg, kim, f"/link {token}")
    assert "manages the campaigns of Studio" in reply["text"]
    linked = await developers.developer_for_identity(provider="telegram", external_id=str(kim.id))
    assert linked is not None and linked.id == dev.id
    reused = await say(tg, kim, f"/link {token}")
    assert "unknown, used or expired" in reused["text"]


async def test_the_owner_is_told_in_private_when_stock_is_low_and_when_sold_out(
    bot: TelegramFront, tg: FakeTelegram, services: Services
) -> None:
    lee = tg.user(2009, "Lee")
    dev_id = await register(tg, lee)
    c = await factories.campaign(dev_id, name="Beta", low_stock_threshold=1)
    await factories.upload_codes(dev_id, c.id, factories.codes_csv(2))
    before = len(tg.sent_to(lee.id))

    for who in ("a", "b"):
        await claims.claim(
            campaign_id=c.id,
            claimant=Claimant.of("web", who),
            channel="web",
            events_bus=services.events,
        )
    notices = await tg.wait_for(
        lambda: len(tg.sent_to(lee.id)) >= before + 2 and tg.sent_to(lee.id)[before:]
    )
    texts = [n["text"] for n in notices]
    assert "Low stock: Beta has 1 codes left (threshold 1)." in texts
    assert "Sold out: every code of Beta has been handed out." in texts
    assert all(code_in(t) is None for t in texts)


async def test_post_in_a_group_shows_the_card_with_a_private_link_and_keeps_it_current(
    bot: TelegramFront, tg: FakeTelegram, services: Services
) -> None:
    max_ = tg.user(2010, "Max")
    dev_id = await register(tg, max_)
    c = await factories.campaign(dev_id, name="Gamma")
    await factories.upload_codes(dev_id, c.id, factories.codes_csv(1))
    group = tg.group(-2010, "Fans")

    tg.send_text(max_, f"/post@{tg.bot_username} {c.id}", chat=group)
    card = (await tg.wait_for(lambda: tg.sent_to(group.id)))[0]
    assert "<b>Gamma</b>" in card["text"] and "1 codes left" in card["text"]
    assert buttons(card) == [
        {"text": "Get my code privately", "url": f"https://t.me/{tg.bot_username}?start={c.id}"}
    ]
    await claims.claim(
        campaign_id=c.id,
        claimant=Claimant.of("web", "z"),
        channel="web",
        events_bus=services.events,
    )
    await tg.wait_for(lambda: tg.calls_of("editMessageText"))
    await bot.drain()
    edited = tg.messages[(group.id, card["message_id"])]
    assert "Sold out: all codes have been handed out." in edited["text"]
    assert all(code_in(m["text"]) is None for m in tg.sent_to(group.id))


@pytest.fixture
async def redis_bot(
    services: Services, tg: FakeTelegram, redis_url: str
) -> AsyncIterator[TelegramFront]:
    """A front whose FSM lives in Redis (events stay in-process)."""
    front = TelegramFront(front_services(services, tg, redis_url=redis_url))
    async with running(front, tg):
        yield front


async def test_new_walks_through_a_campaign_with_its_state_in_redis_and_takes_the_codes_file(
    redis_bot: TelegramFront, tg: FakeTelegram
) -> None:
    from aiogram.fsm.storage.redis import RedisStorage

    assert isinstance(redis_bot.storage, RedisStorage)
    nia = tg.user(2011, "Nia")
    dev_id = await register(tg, nia)

    assert "What is its name?" in (await say(tg, nia, "/new"))["text"]
    assert "description" in (await say(tg, nia, "Summer <sale>"))["text"]
    platforms = await say(tg, nia, "Ten keys for testers")
    before = len(tg.sent_to(nia.id))
    tg.press(nia, platforms, callback(platforms, "Steam"))
    limit_q = (await tg.wait_for(lambda: tg.sent_to(nia.id)[before:]))[0]
    assert "How many codes may one member get?" in limit_q["text"]
    assert "whole number" in (await say(tg, nia, "lots"))["text"]
    refused = await say(tg, nia, "500")
    assert "per_claimant_limit must be 1-100" in refused["text"]
    done = await say(tg, nia, "2")
    found, _ = await campaigns.list_campaigns(owner_id=dev_id)
    assert len(found) == 1
    c = found[0]
    assert (c.name, c.description, c.platform, c.per_claimant_limit) == (
        "Summer <sale>",
        "Ten keys for testers",
        "steam",
        2,
    )
    assert f"https://t.me/{tg.bot_username}?start={c.id}" in done["text"]
    assert "Summer &lt;sale&gt;" in done["text"]

    before = len(tg.sent_to(nia.id))
    tg.send_document(
        nia, "steam.txt", b"STEAM-AAAA-0001\nSTEAM-AAAA-0002\n", mime_type="text/plain"
    )
    report = (await tg.wait_for(lambda: tg.sent_to(nia.id)[before:]))[0]["text"]
    assert "2 imported" in report
    assert "Nothing" not in (await say(tg, nia, "/cancel"))["text"]
