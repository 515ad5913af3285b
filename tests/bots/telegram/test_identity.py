"""Developers set a campaign's identity mode from Telegram; the bot's own members still claim."""

from __future__ import annotations

from bots.telegram.app import TelegramFront
from domain import campaigns
from tests import factories
from tests.bots.telegram.test_developers import register, say
from tests.fakes.telegram import FakeTelegram


async def test_identity_sets_verified_and_back_and_members_still_claim_in_the_bot(
    bot: TelegramFront, tg: FakeTelegram
) -> None:
    owner = tg.user(2101, "Owner")
    stranger = tg.user(2102, "Stranger")
    dev_id = await register(tg, owner)
    c = await factories.campaign(dev_id, name="Keys")
    await factories.upload_codes(dev_id, c.id, factories.codes_csv(2, prefix="TGV"))

    usage = await say(tg, owner, f"/identity {c.id}")
    assert "/identity &lt;campaign id&gt; anonymous" in usage["text"]
    wrong = await say(tg, owner, f"/identity {c.id} everyone")
    assert "/identity &lt;campaign id&gt; anonymous" in wrong["text"]
    assert (await campaigns.get_campaign(owner_id=dev_id, campaign_id=c.id)).identity == "anonymous"

    done = await say(tg, owner, f"/identity {c.id} verified")
    assert "only signed-in members may claim (verified)" in done["text"]
    assert (await campaigns.get_campaign(owner_id=dev_id, campaign_id=c.id)).identity == "verified"
    # a Telegram member is vouched for by Telegram: the bot still hands out codes
    claimed = await say(tg, stranger, f"/claim {c.id}")
    assert "TGV" in claimed["text"]
    # someone else's campaign reads like an unknown one
    other = await say(tg, stranger, f"/identity {c.id} anonymous")
    assert "verified" not in other["text"]
    assert (await campaigns.get_campaign(owner_id=dev_id, campaign_id=c.id)).identity == "verified"

    back = await say(tg, owner, f"/identity {c.id} anonymous")
    assert "anyone may claim (anonymous)" in back["text"]
