"""Developers manage campaigns from Discord; nobody else can."""

from __future__ import annotations

from domain import campaigns, claims, developers
from domain.models import PromoCode
from domain.values import Claimant
from tests import factories
from tests.bots.discord.conftest import MemberFactory, Running
from tests.bots.discord.test_members import code_in, dropped, owner_linked
from tests.fakes.discord import FakeDiscord


def opt(name: str, value: object, kind: int = 3) -> dict[str, object]:
    return {"name": name, "type": kind, "value": value}


def sub(name: str, *options: dict[str, object]) -> list[dict[str, object]]:
    return [{"name": name, "type": 1, "options": list(options)}]


async def test_a_developer_links_creates_a_campaign_and_manages_its_status(
    bot: Running, fake_discord: FakeDiscord, member: MemberFactory
) -> None:
    dev = await developers.create_developer(name="Studio", email="studio@example.com")
    token = await developers.issue_link_token(developer_id=dev.id)
    await bot.start()
    me = member("studio")

    linked = await fake_discord.interact(fake_discord.command(me, "link", [opt("token", token)]))
    assert linked.ephemeral and "Studio" in linked.content
    reused = await fake_discord.interact(fake_discord.command(me, "link", [opt("token", token)]))
    assert "unknown, used or expired" in reused.content

    created = await fake_discord.interact(
        fake_discord.command(
            me,
            "campaign",
            sub(
                "create",
                opt("name", "Beta keys"),
                opt("platform", "steam"),
                opt("min_account_age_days", 30, 4),
            ),
        )
    )
    assert created.ephemeral and "Beta keys" in created.content
    views, _ = await campaigns.list_campaigns(owner_id=dev.id)
    (view,) = views
    assert view.platform == "steam" and view.eligibility == {
        "min_account_age_days": 30,
        "channels": ["discord"],
    }

    listed = await fake_discord.interact(fake_discord.command(me, "campaign", sub("list")))
    assert view.id in listed.content and ": Active," in listed.content

    paused = await fake_discord.interact(
        fake_discord.command(me, "campaign", sub("pause", opt("campaign", view.id)))
    )
    assert ": Paused," in paused.content
    assert (await campaigns.get_campaign(owner_id=dev.id, campaign_id=view.id)).status == "paused"
    resumed = await fake_discord.interact(
        fake_discord.command(me, "campaign", sub("resume", opt("campaign", view.id)))
    )
    assert ": Active," in resumed.content

    stats = await fake_discord.interact(
        fake_discord.command(me, "campaign", sub("stats", opt("campaign", view.id)))
    )
    assert "Available 0" in stats.content and "Claims: 0" in stats.content


async def test_register_creates_a_developer_and_shows_the_api_key_once(
    bot: Running, fake_discord: FakeDiscord, member: MemberFactory
) -> None:
    await bot.start()
    me = member("newdev")
    first = await fake_discord.interact(fake_discord.command(me, "register"))
    assert first.ephemeral and "cdk_" in first.content
    second = await fake_discord.interact(fake_discord.command(me, "register"))
    assert "already registered" in second.content and "cdk_" not in second.content
    assert await developers.developer_for_identity(provider="discord", external_id=str(me.id))


async def test_codes_upload_imports_the_attachment_and_reports_counts_and_problems(
    bot: Running, fake_discord: FakeDiscord, member: MemberFactory
) -> None:
    owner_id, owner = await owner_linked(fake_discord, member)
    c = await factories.campaign(owner_id, name="Upload me")
    await bot.start()
    attachment = fake_discord.add_attachment(
        "codes.csv", b"code\nAAAA-1111\nBBBB-2222\nAAAA-1111\nbad code!\nCCCC-3333\n"
    )
    reply = await fake_discord.interact(
        fake_discord.command(
            owner,
            "codes",
            sub("upload", opt("campaign", c.id), opt("file", attachment["id"], 11)),
            resolved={"attachments": {attachment["id"]: attachment}},
        )
    )
    assert reply.ephemeral
    assert "5 rows, 3 imported, 1 duplicates, 1 invalid" in reply.content
    assert "line 4: duplicate of line 2" in reply.content
    assert "line 5:" in reply.content
    assert await PromoCode.filter(campaign__public_id=c.id).count() == 3
    assert "reopened" not in reply.content


async def test_an_upload_into_a_sold_out_campaign_says_it_reopened_it(
    bot: Running, fake_discord: FakeDiscord, member: MemberFactory
) -> None:
    owner_id, owner = await owner_linked(fake_discord, member)
    c = await factories.campaign(owner_id, name="Gone")
    await factories.upload_codes(owner_id, c.id, "code\nLAST-0001\n")
    await claims.claim(
        campaign_id=c.id,
        claimant=Claimant.of("discord", "42"),
        channel="discord",
        events_bus=bot.services.events,
    )
    await bot.start()
    listed = await fake_discord.interact(fake_discord.command(owner, "campaign", sub("list")))
    assert "**Gone**" in listed.content and ": Sold out, 0 left of 1" in listed.content
    attachment = fake_discord.add_attachment("more.csv", b"code\nMORE-0001\n")
    reply = await fake_discord.interact(
        fake_discord.command(
            owner,
            "codes",
            sub("upload", opt("campaign", c.id), opt("file", attachment["id"], 11)),
            resolved={"attachments": {attachment["id"]: attachment}},
        )
    )
    assert "1 imported" in reply.content
    assert "had sold out: these codes reopened it" in reply.content


async def test_a_member_who_is_not_the_owner_cannot_manage_the_campaign(
    bot: Running, fake_discord: FakeDiscord, member: MemberFactory
) -> None:
    owner_id, _owner = await owner_linked(fake_discord, member)
    c = await factories.campaign(owner_id, name="Mine")
    await factories.upload_codes(owner_id, c.id, factories.codes_csv(2))
    await bot.start()

    stranger = member("stranger")
    not_linked = await fake_discord.interact(
        fake_discord.command(stranger, "campaign", sub("pause", opt("campaign", c.id)))
    )
    assert "not linked to a developer account" in not_linked.content

    other = member("other dev")
    await developers.register_via_chat(
        provider="discord", external_id=str(other.id), name="Other", chat_id=str(other.id)
    )
    for options in (
        sub("pause", opt("campaign", c.id)),
        sub("end", opt("campaign", c.id)),
        sub("stats", opt("campaign", c.id)),
    ):
        reply = await fake_discord.interact(fake_discord.command(other, "campaign", options))
        assert reply.ephemeral and "can't find that campaign" in reply.content
    attachment = fake_discord.add_attachment("x.txt", b"ZZZZ-0001\n")
    upload = await fake_discord.interact(
        fake_discord.command(
            other,
            "codes",
            sub("upload", opt("campaign", c.id), opt("file", attachment["id"], 11)),
            resolved={"attachments": {attachment["id"]: attachment}},
        )
    )
    assert "can't find that campaign" in upload.content
    drop = await fake_discord.interact(fake_discord.command(other, "drop", [opt("campaign", c.id)]))
    unknown = await fake_discord.interact(
        fake_discord.command(other, "drop", [opt("campaign", "cmp_doesnotexist")])
    )
    assert drop.content == unknown.content
    assert "can't find that campaign" in drop.content
    assert not fake_discord.channel_messages
    assert (await campaigns.get_campaign(owner_id=owner_id, campaign_id=c.id)).status == "active"
    assert await PromoCode.filter(campaign__public_id=c.id).count() == 2


async def test_a_server_manager_cannot_drop_another_tenants_campaign_by_its_id(
    bot: Running, fake_discord: FakeDiscord, member: MemberFactory
) -> None:
    owner_id, owner = await owner_linked(fake_discord, member)
    c = await factories.campaign(owner_id, name="Mine")
    await factories.upload_codes(owner_id, c.id, factories.codes_csv(2))
    await bot.start()

    admin = member("admin", manage_server=True)
    refused = await fake_discord.interact(
        fake_discord.command(admin, "drop", [opt("campaign", c.id)])
    )
    assert "can't find that campaign" in refused.content
    assert not fake_discord.channel_messages

    # once the owner dropped it here, a server manager may post it again in this server
    await dropped(fake_discord, owner, c.id)
    message = await dropped(fake_discord, admin, c.id)
    got = await fake_discord.interact(
        fake_discord.component(member("fan"), f"cd:claim:{c.id}", message)
    )
    assert code_in(got.content)


async def test_the_owner_needs_manage_server_to_post_a_drop(
    bot: Running, fake_discord: FakeDiscord, member: MemberFactory
) -> None:
    owner = member("owner without rights")
    dev, _ = await developers.register_via_chat(
        provider="discord", external_id=str(owner.id), name="Solo", chat_id=str(owner.id)
    )
    c = await factories.campaign(dev.id, name="Solo keys")
    await bot.start()

    reply = await fake_discord.interact(
        fake_discord.command(owner, "drop", [opt("campaign", c.id)])
    )
    assert reply.ephemeral and "Manage Server" in reply.content
    assert not fake_discord.channel_messages
