"""The developer gate, the campaign lifecycle commands and the upload rate, through the bot."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bots.telegram.app import TelegramFront
from domain import campaigns
from domain.adapters.bootstrap import Services
from domain.models import PromoCode, Upload
from tests import factories
from tests.bots.telegram.conftest import front_services, running
from tests.bots.telegram.support import buttons
from tests.bots.telegram.test_developers import register, say
from tests.fakes.telegram import FakeTelegram

PRIVATE_ONLY = "Let's do that in a private chat, so nothing sensitive lands here."
NOT_LINKED = "This account is not linked to a developer account."


async def test_developer_commands_refuse_a_group_and_an_unlinked_account_and_let_a_developer_in(
    bot: TelegramFront, tg: FakeTelegram
) -> None:
    dev_user = tg.user(3001, "Dev")
    stranger = tg.user(3002, "Stranger")
    dev_id = await register(tg, dev_user)
    c = await factories.campaign(dev_id, name="Gated")
    group = tg.group(-3001)
    commands = ("/campaigns", "/new", f"/stats {c.id}", f"/pause {c.id}", f"/upload {c.id}")

    for command in commands:
        # a developer in a group is pointed to the private chat, and nothing else happens
        before = len(tg.sent_to(group.id))
        tg.send_text(dev_user, command, chat=group)
        reply = (await tg.wait_for(lambda before=before: tg.sent_to(group.id)[before:]))[0]
        assert reply["text"] == PRIVATE_ONLY, command
        assert buttons(reply) == [
            {"text": "Open a private chat", "url": f"https://t.me/{tg.bot_username}"}
        ]
        # an account linked to no developer is told how to become one
        refused = await say(tg, stranger, command)
        assert refused["text"].startswith(NOT_LINKED), command
    # a document from an unlinked account is not downloaded
    before = len(tg.sent_to(stranger.id))
    tg.send_document(stranger, "codes.csv", b"code\nSNEAKY01\n", caption=f"/upload {c.id}")
    refused = (await tg.wait_for(lambda: tg.sent_to(stranger.id)[before:]))[0]
    assert refused["text"].startswith(NOT_LINKED) and not tg.calls_of("getFile")
    assert (await campaigns.get_campaign(owner_id=dev_id, campaign_id=c.id)).status == "active"

    # the developer, in private, gets through with their own account
    listing = await say(tg, dev_user, "/campaigns")
    assert "<b>Gated</b> · Active · 0 of 0 left" in listing["text"]
    assert "now paused" in (await say(tg, dev_user, f"/pause {c.id}"))["text"]
    assert "What is its name?" in (await say(tg, dev_user, "/new"))["text"]
    # /cancel is no developer command: anyone may stop a conversation
    assert (await say(tg, stranger, "/cancel"))["text"] == "There is nothing to cancel."


async def test_reopen_and_archive_follow_the_campaign_lifecycle(
    bot: TelegramFront, tg: FakeTelegram
) -> None:
    ada = tg.user(3003, "Ada")
    dev_id = await register(tg, ada)
    c = await factories.campaign(dev_id, name="Cycle")

    refused = await say(tg, ada, f"/archive {c.id}")
    assert refused["text"] == (
        "This campaign is active, so it cannot archive now. What you can do: pause, end."
    )
    assert "now ended" in (await say(tg, ada, f"/end {c.id}"))["text"]
    assert "<b>Cycle</b> is now active." in (await say(tg, ada, f"/reopen {c.id}"))["text"]
    assert (await campaigns.get_campaign(owner_id=dev_id, campaign_id=c.id)).status == "active"
    await say(tg, ada, f"/end {c.id}")
    assert "<b>Cycle</b> is now archived." in (await say(tg, ada, f"/archive {c.id}"))["text"]
    assert (await campaigns.get_campaign(owner_id=dev_id, campaign_id=c.id)).status == "archived"
    final = await say(tg, ada, f"/reopen {c.id}")
    assert final["text"] == "This campaign is archived: it takes no further changes."
    usage = await say(tg, ada, "/reopen")
    assert "/reopen &lt;campaign id&gt;" in usage["text"]


@pytest.fixture
async def limited_bot(services: Services, tg: FakeTelegram) -> AsyncIterator[TelegramFront]:
    """A front whose services allow two uploads a minute per developer."""
    front = TelegramFront(front_services(services, tg, rate_limit_upload="2/minute"))
    async with running(front, tg):
        yield front


async def test_the_upload_rate_limit_refuses_the_third_upload_in_a_minute_before_downloading(
    limited_bot: TelegramFront, tg: FakeTelegram
) -> None:
    uma = tg.user(3004, "Uma")
    dev_id = await register(tg, uma)
    c = await factories.campaign(dev_id, name="Limited")
    for n in (1, 2):
        before = len(tg.sent_to(uma.id))
        tg.send_document(uma, f"{n}.txt", f"LIMIT-000{n}\n".encode(), caption=f"/upload {c.id}")
        report = (await tg.wait_for(lambda before=before: tg.sent_to(uma.id)[before:]))[0]["text"]
        assert "1 imported" in report
    downloads = len(tg.calls_of("getFile"))

    before = len(tg.sent_to(uma.id))
    tg.send_document(uma, "3.txt", b"LIMIT-0003\n", caption=f"/upload {c.id}")
    refused = (await tg.wait_for(lambda: tg.sent_to(uma.id)[before:]))[0]["text"]
    assert refused.startswith("Slow down a little: try again in ") and refused.endswith(" s.")
    assert len(tg.calls_of("getFile")) == downloads
    assert await Upload.filter(campaign__public_id=c.id).count() == 2
    assert await PromoCode.filter(campaign__public_id=c.id).count() == 2
