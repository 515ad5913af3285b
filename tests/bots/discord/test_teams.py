"""Teams in the Discord bot: /join accepts an invitation once; a viewer may read but not
manage; a manager's command is audited with the `bot` channel."""

from __future__ import annotations

from domain import access, campaigns, developers
from domain.models import AuditEntry
from tests import factories
from tests.bots.discord.conftest import MemberFactory, Running
from tests.bots.discord.test_manage import opt, sub
from tests.fakes.discord import FakeDiscord


async def test_join_gives_the_invited_role_and_the_role_holds_on_manage_commands(
    bot: Running, fake_discord: FakeDiscord, member: MemberFactory
) -> None:
    owner, _ = await factories.developer("Owner")
    c = await factories.campaign(owner.id, name="Squad drop")
    await bot.start()
    me = member("helper")
    helper, _ = await developers.register_via_chat(
        provider="discord", external_id=str(me.id), name="Helper", chat_id=str(me.id)
    )
    issued = await access.invite(campaign_id=c.id, developer_id=owner.id, role="viewer")

    joined = await fake_discord.interact(
        fake_discord.command(me, "join", [opt("token", issued.token)])
    )
    assert joined.ephemeral and "You joined **Squad drop** as viewer" in joined.content
    again = await fake_discord.interact(
        fake_discord.command(me, "join", [opt("token", issued.token)])
    )
    assert "already used" in again.content

    stats = await fake_discord.interact(
        fake_discord.command(me, "campaign", sub("stats", opt("campaign", c.id)))
    )
    assert "Squad drop" in stats.content
    refused = await fake_discord.interact(
        fake_discord.command(me, "campaign", sub("pause", opt("campaign", c.id)))
    )
    assert "manager" in refused.content
    assert (await campaigns.get_campaign(owner_id=owner.id, campaign_id=c.id)).status == "active"

    await access.change_role(
        campaign_id=c.id, developer_id=owner.id, member_id=helper.id, role="manager"
    )
    paused = await fake_discord.interact(
        fake_discord.command(me, "campaign", sub("pause", opt("campaign", c.id)))
    )
    assert "Paused" in paused.content
    rows = await AuditEntry.filter(campaign_public_id=c.id, actor_id=helper.id).order_by("id")
    assert [(r.action, r.channel) for r in rows] == [
        ("member.join", "bot"),
        ("campaign.update", "bot"),
    ]
