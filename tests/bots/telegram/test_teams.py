"""Teams in the Telegram bot: /join accepts an invitation, a member's role holds on the bot's
manage commands, and the bot's actions are audited with the `bot` channel."""

from __future__ import annotations

from bots.telegram.app import TelegramFront
from domain import access, campaigns
from domain.models import AuditEntry, CampaignMember
from tests import factories
from tests.bots.telegram.test_developers import register, say
from tests.fakes.telegram import FakeTelegram


async def test_join_accepts_an_invitation_once_and_the_role_holds_on_bot_commands(
    bot: TelegramFront, tg: FakeTelegram
) -> None:
    owner, _ = await factories.developer("Owner")
    c = await factories.campaign(owner.id, name="Team drop")
    kim = tg.user(3001, "Kim")
    kim_id = await register(tg, kim)
    issued = await access.invite(campaign_id=c.id, developer_id=owner.id, role="viewer")

    assert "/join &lt;token&gt;" in (await say(tg, kim, "/join"))["text"]
    joined = await say(tg, kim, f"/join {issued.token}")
    assert "You joined <b>Team drop</b> as viewer" in joined["text"]
    assert (await CampaignMember.get(developer_id=kim_id)).role == "viewer"
    again = await say(tg, kim, f"/join {issued.token}")
    assert "already used" in again["text"]

    # a viewer sees the campaign and its stats, but may not pause it
    assert "Team drop" in (await say(tg, kim, "/campaigns"))["text"]
    refused = await say(tg, kim, f"/pause {c.id}")
    assert "manager" in refused["text"]
    view = await campaigns.get_campaign(owner_id=owner.id, campaign_id=c.id)
    assert view.status == "active"

    # promoted to manager, the same command works, and is audited as a bot action
    await access.change_role(
        campaign_id=c.id, developer_id=owner.id, member_id=kim_id, role="manager"
    )
    assert "now paused" in (await say(tg, kim, f"/pause {c.id}"))["text"]
    rows = await AuditEntry.filter(campaign_public_id=c.id, actor_id=kim_id).order_by("id")
    assert [(r.action, r.channel) for r in rows] == [
        ("member.join", "bot"),
        ("campaign.update", "bot"),
    ]
    assert issued.token not in str([(r.target, r.detail) for r in rows])
