"""A Telegram user's `language_code` decides the bot's language, through aiogram's i18n
middleware; numbers and dates follow it and codes are delivered unchanged."""

from __future__ import annotations

from bots.telegram.app import TelegramFront
from bots.telegram.texts import CATALOGUE
from domain.models import Claim
from tests import factories
from tests.bots.telegram.support import buttons, callback, code_in
from tests.fakes.telegram import FakeTelegram


async def test_a_german_member_gets_the_card_button_and_code_in_german(
    bot: TelegramFront, tg: FakeTelegram
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id, name="Herbst <Drop>")
    codes = "code\nAbC-0012-xyz_9\n" + "".join(f"DE{i:06d}\n" for i in range(1199))
    await factories.upload_codes(dev.id, c.id, codes)
    greta = tg.user(2001, "Greta", language_code="de")

    tg.send_text(greta, f"/start {c.id}")
    card = (await tg.wait_for(lambda: tg.sent_to(greta.id)))[0]
    assert "<b>Herbst &lt;Drop&gt;</b>" in card["text"]
    assert "1.200 Codes übrig" in card["text"]
    assert [b["text"] for b in buttons(card)] == ["Code holen"]

    tg.press(greta, card, callback(card, "Code holen"))
    reply = (await tg.wait_for(lambda: tg.sent_to(greta.id)[1:]))[0]
    assert reply["text"].startswith("Hier ist dein Code für Herbst &lt;Drop&gt;:")
    code = code_in(reply["text"])
    claimed = await Claim.get(claimant=f"telegram:{greta.id}")
    assert code == claimed.code  # the code as stored, byte for byte

    tg.send_text(greta, "/claim nicht-da")
    refused = (await tg.wait_for(lambda: tg.sent_to(greta.id)[2:]))[0]
    assert refused["text"] == "Diese Kampagne finde ich nicht. Prüfe den Link oder die ID."


async def test_a_brazilian_member_pt_br_gets_portuguese_and_a_local_date(
    bot: TelegramFront, tg: FakeTelegram
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id, name="Lançamento")
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(2))
    joao = tg.user(2002, "João", language_code="pt-br")

    tg.send_text(joao, "/mycodes")
    empty = (await tg.wait_for(lambda: tg.sent_to(joao.id)))[0]
    assert empty["text"] == "Você ainda não recebeu nenhum código."

    tg.send_text(joao, f"/claim {c.id}")
    got = (await tg.wait_for(lambda: tg.sent_to(joao.id)[1:]))[0]
    tg.send_text(joao, "/mycodes")
    listing = (await tg.wait_for(lambda: tg.sent_to(joao.id)[2:]))[0]
    claimed = await Claim.get(claimant=f"telegram:{joao.id}")
    assert listing["text"].startswith("Seus códigos:")
    assert code_in(listing["text"]) == code_in(got["text"]) == claimed.code
    # Babel's Brazilian medium date: "2 de dez. de 2026"
    assert f"{claimed.created_at.day} de " in listing["text"]
    assert f" de {claimed.created_at.year})" in listing["text"]


async def test_an_unknown_language_falls_back_to_english(
    bot: TelegramFront, tg: FakeTelegram
) -> None:
    xena = tg.user(2003, "Xena", language_code="xx")
    tg.send_text(xena, "/help")
    help_text = (await tg.wait_for(lambda: tg.sent_to(xena.id)))[0]["text"]
    assert help_text == CATALOGUE.gettext("help", "en")
    assert help_text.startswith("<b>For everyone</b>\n/claim &lt;id&gt; - get a code")


async def test_the_command_menu_is_published_in_every_language(
    bot: TelegramFront, tg: FakeTelegram
) -> None:
    menus = {
        (c.params["scope"]["type"], c.params.get("language_code")): {
            cmd["command"]: cmd["description"] for cmd in c.params["commands"]
        }
        for c in tg.calls_of("setMyCommands")
    }
    assert menus[("default", None)]["claim"] == "Get a code: /claim <id>"
    assert menus[("default", "de")]["claim"] == "Einen Code holen: /claim <id>"
    assert menus[("all_private_chats", "pt")]["new"] == "Criar uma campanha"
    assert menus[("all_group_chats", "ja")]["post"] == "ここにキャンペーンカードを投稿"
    codes = {lang for _, lang in menus}
    assert codes == {None, "es", "pt", "de", "fr", "ru", "tr", "ja"}
    # the same commands in every language: only the descriptions change
    assert {tuple(m) for (scope, _), m in menus.items() if scope == "default"} == {
        ("start", "claim", "mycodes", "help")
    }
