"""A member's Discord client language decides the bot's replies; the command descriptions
Discord shows are translated by the bot's `app_commands.Translator`."""

from __future__ import annotations

from typing import Any

from bots.discord.texts import CATALOGUE
from domain.models import Claim, PromoCode
from tests import factories
from tests.bots.discord.conftest import MemberFactory, Running
from tests.bots.discord.test_members import code_in, dropped, owner_linked
from tests.fakes.discord import FakeDiscord


def registered(fake: FakeDiscord, name: str) -> dict[str, Any]:
    return next(c for cmds in fake.commands.values() for c in cmds if c["name"] == name)


async def test_a_member_with_a_spanish_client_gets_spanish_replies_and_the_code_unchanged(
    bot: Running, fake_discord: FakeDiscord, member: MemberFactory
) -> None:
    owner_id, owner = await owner_linked(fake_discord, member)
    c = await factories.campaign(owner_id, name="Lanzamiento")
    await factories.upload_codes(owner_id, c.id, "code\nAbC-0012-xyz_9\n")
    await bot.start()
    await dropped(fake_discord, owner, c.id)  # /claim serves campaigns dropped in the server
    lucia = member("lucia")
    lucia.locale = "es-ES"

    reply = await fake_discord.interact(
        fake_discord.command(lucia, "claim", [{"name": "campaign", "type": 3, "value": c.id}])
    )
    assert reply.ephemeral
    assert reply.content.startswith("Aquí tienes tu código para Lanzamiento:")
    code = code_in(reply.content)
    assert code == "AbC-0012-xyz_9"  # byte for byte what was uploaded
    assert await Claim.filter(claimant=f"discord:{lucia.id}", code=code).exists()
    assert (await PromoCode.get(code=code)).code == code

    sold_out = await fake_discord.interact(
        fake_discord.command(
            member("pablo"), "claim", [{"name": "campaign", "type": 3, "value": c.id}]
        )
    )
    # pablo's client is English: the same refusal in English
    assert "sold out" in sold_out.content.lower()


async def test_a_japanese_member_reads_japanese_and_an_unknown_locale_reads_english(
    bot: Running, fake_discord: FakeDiscord, member: MemberFactory
) -> None:
    await bot.start()
    hana = member("hana")
    hana.locale = "ja"
    empty = await fake_discord.interact(fake_discord.command(hana, "mycodes"))
    assert empty.content == "まだコードを受け取っていません。"

    xavier = member("xavier")
    xavier.locale = "xx"  # not a language Discord or the catalogue knows
    fallback = await fake_discord.interact(fake_discord.command(xavier, "mycodes"))
    assert fallback.content == "You have not received any codes yet."

    refused = await fake_discord.interact(
        fake_discord.command(hana, "claim", [{"name": "campaign", "type": 3, "value": "nope"}])
    )
    assert "見つかりません" in refused.content


async def test_command_descriptions_are_registered_in_every_translated_language(
    bot: Running, fake_discord: FakeDiscord
) -> None:
    await bot.start()
    claim = registered(fake_discord, "claim")
    assert claim["description"] == "Get a code privately (only you see it)"
    localized = claim["description_localizations"]
    assert localized["ja"] == CATALOGUE.gettext("command.claim", "ja")
    assert (
        localized["es-ES"] == localized["es-419"] == "Obtener un código en privado (solo tú lo ves)"
    )
    assert localized["pt-BR"] == CATALOGUE.gettext("command.claim", "pt_BR")
    assert {"de", "fr", "ru", "tr"} <= set(localized)
    # English clients see the default; languages without a catalogue are left to it too
    assert not {"en-US", "en-GB", "zh-CN", "ko"} & set(localized)
    # names stay English so every text and member can say /claim
    assert not claim.get("name_localizations")
    option = claim["options"][0]
    assert option["description_localizations"]["de"] == "Die Kampagne, aus der du einen Code holst"

    campaign = registered(fake_discord, "campaign")
    identity = next(o for o in campaign["options"] if o["name"] == "identity")
    mode = next(o for o in identity["options"] if o["name"] == "mode")
    verified = next(ch for ch in mode["choices"] if ch["value"] == "verified")
    assert verified["name_localizations"]["fr"] == CATALOGUE.gettext(
        "choice.identity.verified", "fr"
    )
