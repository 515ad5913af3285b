"""Discord: /codes generate makes codes from a pattern with a short reply; the owner gets a DM
once a day about codes expiring soon; /campaign stats counts expired codes apart."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from domain import clock, expiry
from domain.models import PromoCode
from tests import factories
from tests.bots.discord.conftest import MemberFactory, Running
from tests.bots.discord.test_manage import opt
from tests.bots.discord.test_members import owner_linked
from tests.fakes.discord import FakeDiscord


async def test_codes_generate_makes_codes_and_answers_in_one_line(
    bot: Running, fake_discord: FakeDiscord, member: MemberFactory
) -> None:
    owner_id, owner = await owner_linked(fake_discord, member)
    c = await factories.campaign(owner_id, name="Keys")
    await bot.start()

    def generate(who: object, *options: dict[str, object]) -> dict[str, object]:
        return fake_discord.command(
            who, "codes", [{"name": "generate", "type": 1, "options": list(options)}]
        )

    done = await fake_discord.interact(
        generate(
            owner,
            opt("campaign", c.id),
            opt("count", 200, 4),
            opt("pattern", "####-????"),
            opt("prefix", "DC-"),
        )
    )
    assert done.ephemeral and done.content == "Generated 200 codes (DC-####-????) for Keys."
    stored = await PromoCode.all().values_list("code", flat=True)
    assert len(set(stored)) == 200
    assert all(re.fullmatch(r"DC-[2-9]{4}-[A-HJKMNP-Z]{4}", str(s)) for s in stored)

    refused = await fake_discord.interact(
        generate(owner, opt("campaign", c.id), opt("count", 5, 4), opt("pattern", "AB##!"))
    )
    assert "pattern may hold letters, digits" in refused.content
    stranger = member("stranger")
    nope = await fake_discord.interact(
        generate(stranger, opt("campaign", c.id), opt("count", 5, 4), opt("pattern", "####"))
    )
    assert "not linked" in nope.content
    assert await PromoCode.all().count() == 200


async def test_the_owner_gets_one_dm_a_day_about_codes_expiring_soon(
    bot: Running, fake_discord: FakeDiscord, member: MemberFactory
) -> None:
    owner_id, owner = await owner_linked(fake_discord, member)
    c = await factories.campaign(owner_id, name="Spring")
    now = datetime.now(UTC)
    soon = (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    await factories.upload_codes(
        owner_id, c.id, f"code,expires_at\nSOON0001,{soon}\nGONE0001,2020-01-01\n"
    )
    front = await bot.start()
    for minute in range(3):
        with clock.frozen_at(now + timedelta(minutes=minute)):
            await expiry.run_expiry(events_bus=front.services.events)
    [dm] = await fake_discord.wait_dm(owner.id, count=1)
    assert dm.startswith("Expiring soon: 1 unclaimed codes of Spring expire within 3 days")
    stats = await fake_discord.interact(
        fake_discord.command(
            owner,
            "campaign",
            [{"name": "stats", "type": 1, "options": [opt("campaign", c.id)]}],
        )
    )
    assert "Available 1 · claimed 0 · used 0 · expired 1 · total 2" in stats.content
    assert len(await fake_discord.wait_dm(owner.id, count=1)) == 1
