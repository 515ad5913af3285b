"""Eligibility gates judged by the domain from facts the Discord bot gathers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.models import Claim
from tests import factories
from tests.bots.discord.conftest import MemberFactory, Running
from tests.bots.discord.test_members import code_in, dropped, owner_linked
from tests.fakes.discord import FakeDiscord


async def test_a_member_without_the_required_role_is_refused_and_told_which_role(
    bot: Running, fake_discord: FakeDiscord, member: MemberFactory
) -> None:
    verified = fake_discord.add_role("Verified")
    owner_id, owner = await owner_linked(fake_discord, member)
    c = await factories.campaign(
        owner_id, eligibility={"required_roles": [str(verified)], "channels": ["discord"]}
    )
    await factories.upload_codes(owner_id, c.id, factories.codes_csv(3))
    await bot.start()
    message = await dropped(fake_discord, owner, c.id)

    outsider = member("outsider")
    refused = await fake_discord.interact(
        fake_discord.component(outsider, f"cd:claim:{c.id}", message)
    )
    assert refused.ephemeral and "```" not in refused.content
    assert f"<@&{verified}>" in refused.content and "role" in refused.content
    assert not await Claim.filter(claimant=f"discord:{outsider.id}").exists()

    insider = member("insider", roles=[verified])
    served = await fake_discord.interact(
        fake_discord.component(insider, f"cd:claim:{c.id}", message)
    )
    assert code_in(served.content)


async def test_a_too_young_account_is_refused_with_the_date_it_qualifies(
    bot: Running, fake_discord: FakeDiscord, member: MemberFactory
) -> None:
    owner_id, owner = await owner_linked(fake_discord, member)
    c = await factories.campaign(
        owner_id, eligibility={"min_account_age_days": 30, "channels": ["discord"]}
    )
    await factories.upload_codes(owner_id, c.id, factories.codes_csv(3))
    await bot.start()
    message = await dropped(fake_discord, owner, c.id)

    newcomer = member("newcomer", account_days=2)
    refused = await fake_discord.interact(
        fake_discord.component(newcomer, f"cd:claim:{c.id}", message)
    )
    qualifies = datetime.now(UTC) + timedelta(days=28)
    assert "at least 30 days old" in refused.content
    assert f"{qualifies:%Y-%m-%d}" in refused.content
    veteran = await fake_discord.interact(
        fake_discord.component(member("veteran", account_days=31), f"cd:claim:{c.id}", message)
    )
    assert code_in(veteran.content)


async def test_a_member_new_to_the_server_is_refused_until_their_time_in_the_server_is_met(
    bot: Running, fake_discord: FakeDiscord, member: MemberFactory
) -> None:
    owner_id, owner = await owner_linked(fake_discord, member)
    c = await factories.campaign(
        owner_id, eligibility={"min_member_days": 7, "channels": ["discord"]}
    )
    await factories.upload_codes(owner_id, c.id, factories.codes_csv(3))
    await bot.start()
    message = await dropped(fake_discord, owner, c.id)

    joined_yesterday = member("fresh", server_days=1)
    refused = await fake_discord.interact(
        fake_discord.component(joined_yesterday, f"cd:claim:{c.id}", message)
    )
    qualifies = datetime.now(UTC) + timedelta(days=6)
    assert "in the server for 7 days" in refused.content
    assert f"{qualifies:%Y-%m-%d}" in refused.content
