"""Telegram: /generate makes codes from a pattern with a short reply; the owner hears once a day
of codes about to expire; /stats counts expired codes apart."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from bots.telegram.app import TelegramFront
from domain import clock, expiry
from domain.adapters.bootstrap import Services
from domain.models import PromoCode
from tests import factories
from tests.bots.telegram.test_developers import register, say
from tests.fakes.telegram import FakeTelegram


async def test_generate_makes_codes_from_a_pattern_and_answers_in_one_line(
    bot: TelegramFront, tg: FakeTelegram
) -> None:
    ola = tg.user(2101, "Ola")
    dev_id = await register(tg, ola)
    c = await factories.campaign(dev_id, name="Keys")

    done = await say(tg, ola, f"/generate {c.id} 300 PROMO-####-????")
    assert done["text"] == "Generated 300 codes (PROMO-####-????) for <b>Keys</b>."
    stored = await PromoCode.all().values_list("code", flat=True)
    assert len(set(stored)) == 300
    assert all(re.fullmatch(r"PROMO-[2-9]{4}-[A-HJKMNP-Z]{4}", str(s)) for s in stored)

    usage = await say(tg, ola, f"/generate {c.id} many PROMO-####")
    assert usage["text"].startswith("Send /generate &lt;campaign id&gt;")
    refused = await say(tg, ola, f"/generate {c.id} 50 AB-##")
    assert "makes 64 codes" in refused["text"] and "at most 0 can be generated" in refused["text"]
    other = tg.user(2102, "Other")
    await register(tg, other)
    missing = await say(tg, other, f"/generate {c.id} 5 PROMO-####")
    assert missing["text"] == "I can't find that campaign. Check the link or the id."
    assert await PromoCode.all().count() == 300


async def test_the_owner_hears_once_a_day_of_codes_expiring_soon_and_stats_count_expired(
    bot: TelegramFront, tg: FakeTelegram, services: Services
) -> None:
    pia = tg.user(2103, "Pia")
    dev_id = await register(tg, pia)
    c = await factories.campaign(dev_id, name="Spring")
    now = datetime.now(UTC)
    soon = (now + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    await factories.upload_codes(
        dev_id, c.id, f"code,expires_at\nSOON0001,{soon}\nSOON0002,{soon}\nGONE0001,2020-01-01\n"
    )
    before = len(tg.sent_to(pia.id))
    for minute in range(3):
        with clock.frozen_at(now + timedelta(minutes=minute)):
            await expiry.run_expiry(events_bus=services.events)
    [notice] = await tg.wait_for(lambda: tg.sent_to(pia.id)[before:])
    assert notice["text"] == (
        f"Expiring soon: 2 unclaimed codes of Spring expire within 3 days"
        f" (first at {soon[:16].replace('T', ' ')} UTC)."
    )
    stats = await say(tg, pia, f"/stats {c.id}")
    assert "2 available, 0 claimed, 0 used, 1 expired, 3 in all" in stats["text"]
    assert len(tg.sent_to(pia.id)) == before + 2  # no second notice came meanwhile
