"""Waitlist tokens identify byte for byte: a token that differs only in case, or by a
trailing space, is another token (MariaDB's default collation would fold them together)."""

from __future__ import annotations

from urllib.parse import unquote

from tortoise.connection import get_connection

from domain import waitlist
from domain.adapters.bootstrap import Services
from domain.adapters.mail import mail_setup
from domain.models import WaitlistEntry
from tests.mail.conftest import Inbox, link_in
from tests.mail.helpers import sold_out_campaign


def _folded(token: str) -> str:
    swapped = token.swapcase()
    assert swapped != token, "a token with letters"
    return swapped


async def test_unsubscribe_and_confirmation_tokens_match_only_exactly(
    mail_services: Services, inbox: Inbox
) -> None:
    _, cid = await sold_out_campaign(mail_services)
    setup = mail_setup(mail_services.settings)
    await waitlist.join_by_email(campaign_id=cid, address="exact@example.com", setup=setup)
    mail = inbox.to("exact@example.com")[-1]
    _, confirm_token = link_in(mail, "confirm")
    _, key = link_in(mail, "unsubscribe")
    confirm_token, key = unquote(confirm_token), unquote(key)

    stored = waitlist.token_hash(confirm_token)
    assert await WaitlistEntry.filter(confirm_hash=stored).exists()
    assert not await WaitlistEntry.filter(confirm_hash=stored.upper()).exists()
    assert await waitlist.confirm(campaign_id=cid, token=_folded(confirm_token)) == (
        waitlist.Confirmed.UNKNOWN
    )

    for near in (_folded(key), key + " ", key.upper(), key.lower()):
        if near == key:
            continue
        assert not await waitlist.is_subscribed(campaign_id=cid, token=near), near
        assert not await waitlist.unsubscribe(campaign_id=cid, token=near), near
    assert await WaitlistEntry.filter(contact="exact@example.com").exists()
    assert len(key) == waitlist.TOKEN_LENGTH
    assert await waitlist.unsubscribe(campaign_id=cid, token=key)
    assert not await WaitlistEntry.filter(contact="exact@example.com").exists()


async def test_on_mariadb_the_token_columns_compare_bytes(mail_services: Services) -> None:
    if not mail_services.settings.is_mysql:
        return  # SQLite compares bytes by itself
    conn = get_connection("default")
    rows = await conn.execute_query_dict(
        "SELECT COLUMN_NAME AS name, COLLATION_NAME AS collation FROM information_schema.COLUMNS"
        " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'waitlist'"
        " AND COLUMN_NAME IN ('claimant', 'mail_key', 'confirm_hash')"
    )
    assert {r["name"]: r["collation"] for r in rows} == {
        "claimant": "utf8mb4_nopad_bin",
        "mail_key": "utf8mb4_nopad_bin",
        "confirm_hash": "utf8mb4_nopad_bin",
    }
