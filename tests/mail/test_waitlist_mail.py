"""The waitlist writes back: double opt-in, one notice per restock, one-click unsubscribe,
against a real SMTP server (aiosmtpd) on SQLite and MariaDB."""

from __future__ import annotations

from urllib.parse import unquote

import httpx

from domain import waitlist
from domain.adapters.bootstrap import Services
from domain.models import WaitlistEntry, WaitlistNotice
from scheduler.runner import run_job
from tests.mail.conftest import MAILBOX, PUBLIC_URL, Inbox, link_in
from tests.mail.helpers import (
    join,
    join_and_confirm,
    one_pass,
    restock,
    sell_out,
    sold_out_campaign,
)


async def test_a_confirmed_member_gets_one_notice_per_restock_until_they_unsubscribe(
    mail_services: Services, member: httpx.AsyncClient, inbox: Inbox
) -> None:
    owner, cid = await sold_out_campaign(mail_services, name="Winter drop")

    joined = await join(member, cid, "fan@example.com")
    assert joined.status_code == 303 and joined.headers["location"].endswith("?waitlist=2")
    shown = await member.get(joined.headers["location"])
    assert "we sent it an e-mail with a confirmation link" in shown.text
    [confirmation] = inbox.to("fan@example.com")
    assert confirmation["Subject"] == "Confirm the waitlist of Winter drop"
    path, token = link_in(confirmation, "confirm")
    assert path == f"/c/{cid}/waitlist/confirm"

    # opening the link shows a button; a mail scanner's GET confirms nothing
    page = await member.get(path, params={"token": token})
    assert page.status_code == 200 and 'data-state="confirm"' in page.text
    assert (await WaitlistEntry.get(contact="fan@example.com")).confirmed_at is None
    assert (await member.post(path, params={"token": token})).status_code == 200
    assert (await WaitlistEntry.get(contact="fan@example.com")).confirmed_at is not None

    # sold out: nothing to say yet
    assert (await one_pass(mail_services)).sent == 0
    await restock(mail_services, owner, cid, 3)
    summary = await run_job("waitlist_mail", mail_services, [])  # the registered job
    assert summary["result"]["restocks_opened"] == 1 and summary["result"]["sent"] == 1
    assert (await one_pass(mail_services)).sent == 0, "never twice for one restock"

    [notice] = inbox.about("Codes are back")
    assert notice["To"] == "fan@example.com" and notice["Subject"] == "Codes are back: Winter drop"
    assert f"{PUBLIC_URL}/c/{cid}" in notice.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    unsubscribe_path, key = link_in(notice, "unsubscribe")
    url = f"{PUBLIC_URL}{unsubscribe_path}?token={key}"
    assert notice["List-Unsubscribe"] == f"<{url}>, <mailto:{MAILBOX}?subject=unsubscribe%20{key}>"
    assert notice["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert confirmation["List-Unsubscribe"] == notice["List-Unsubscribe"]

    # opening the unsubscribe link asks first; the RFC 8058 POST removes the address
    ask = await member.get(unsubscribe_path, params={"token": unquote(key)})
    assert 'data-state="unsubscribe"' in ask.text
    assert await WaitlistEntry.filter(contact="fan@example.com").exists()
    async with httpx.AsyncClient(  # a mail provider's POST: no cookie, no page
        transport=member._transport, base_url=PUBLIC_URL
    ) as provider:
        one_click = await provider.post(
            unsubscribe_path,
            params={"token": unquote(key)},
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert one_click.status_code == 200 and 'data-state="removed"' in one_click.text
    assert not await WaitlistEntry.filter(contact="fan@example.com").exists()
    assert not await WaitlistNotice.all().exists(), "its notices went with it"

    # sold out, another member confirms, restocked again: only they are told
    await sell_out(mail_services, cid)
    assert (await one_pass(mail_services)).restocks_closed == 1
    await join_and_confirm(member, inbox, cid, "other@example.com")
    await restock(mail_services, owner, cid, 2)
    again = await one_pass(mail_services)
    assert again.restocks_opened == 1 and again.sent == 1
    assert [m["To"] for m in inbox.about("Codes are back")] == [
        "fan@example.com",
        "other@example.com",
    ]


async def test_each_restock_is_announced_once_and_only_to_confirmed_addresses(
    mail_services: Services, member: httpx.AsyncClient, inbox: Inbox
) -> None:
    owner, cid = await sold_out_campaign(mail_services)
    await join_and_confirm(member, inbox, cid, "first@example.com")
    await join(member, cid, "never-confirms@example.com")
    # the same address in other letters is the same waiter: no second mail, no second row,
    # and the page does not tell that it was on the list
    again = await join(member, cid, "FIRST@Example.com")
    assert again.headers["location"].endswith("?waitlist=2")
    assert len(inbox.to("FIRST@Example.com")) == 0
    assert await WaitlistEntry.filter(campaign__public_id=cid).count() == 2

    for round_ in (1, 2):
        await restock(mail_services, owner, cid, 1)
        assert (await one_pass(mail_services)).sent == 1
        assert (await one_pass(mail_services)).sent == 0
        await sell_out(mail_services, cid)
        await one_pass(mail_services)
        assert [m["To"] for m in inbox.about("Codes are back")] == ["first@example.com"] * round_
    assert inbox.about("Codes are back")[0]["To"] == "first@example.com"
    assert all(m["To"] != "never-confirms@example.com" for m in inbox.about("Codes are back"))


async def test_a_temporary_smtp_failure_is_retried_after_its_backoff_and_sent_once(
    mail_services: Services, member: httpx.AsyncClient, inbox: Inbox
) -> None:
    from datetime import timedelta

    from domain import clock

    owner, cid = await sold_out_campaign(mail_services)
    await join_and_confirm(member, inbox, cid, "patient@example.com")
    await restock(mail_services, owner, cid, 5)
    inbox.fail_next(2)  # 451 twice
    first = await one_pass(mail_services)
    assert (first.sent, first.deferred) == (0, 1)
    assert (await one_pass(mail_services)).sent == 0, "not before its back-off"
    with clock.frozen_at(clock.now() + timedelta(minutes=2)):
        assert (await one_pass(mail_services)).deferred == 1  # the second 451
    with clock.frozen_at(clock.now() + timedelta(minutes=10)):
        assert (await one_pass(mail_services)).sent == 1
        assert (await one_pass(mail_services)).sent == 0
    [notice] = await WaitlistNotice.all()
    assert (notice.status, notice.attempts) == ("sent", 3)
    assert len(inbox.about("Codes are back")) == 1


async def test_a_server_that_is_down_defers_and_a_permanent_refusal_is_not_retried(
    mail_services: Services, member: httpx.AsyncClient, inbox: Inbox, smtp_server: object
) -> None:
    from dataclasses import replace
    from datetime import timedelta

    from pydantic import SecretStr

    from domain import clock
    from tests.mail.conftest import free_port

    owner, cid = await sold_out_campaign(mail_services)
    await join_and_confirm(member, inbox, cid, "a@example.com")
    await restock(mail_services, owner, cid, 5)
    down = replace(
        mail_services,
        settings=mail_services.settings.model_copy(
            update={"smtp_url": SecretStr(f"smtp://127.0.0.1:{free_port()}")}
        ),
    )
    assert (await one_pass(down)).deferred == 1  # connection refused
    inbox.fail_next(1, "550 5.1.1 no such user")
    with clock.frozen_at(clock.now() + timedelta(minutes=5)):
        refused = await one_pass(mail_services)
    assert (refused.sent, refused.failed) == (0, 1)
    with clock.frozen_at(clock.now() + timedelta(days=1)):
        assert (await one_pass(mail_services)).sent == 0
    [notice] = await WaitlistNotice.all()
    assert notice.status == "failed" and notice.last_error.startswith("550")


async def test_a_confirmation_link_expires_and_a_newer_mail_replaces_it(
    mail_services: Services, member: httpx.AsyncClient, inbox: Inbox
) -> None:
    from datetime import timedelta

    from domain import clock

    _, cid = await sold_out_campaign(mail_services)
    await join(member, cid, "late@example.com")
    path, old = link_in(inbox.to("late@example.com")[-1], "confirm")
    with clock.frozen_at(clock.now() + timedelta(days=8)):
        assert await waitlist.check_confirmation(campaign_id=cid, token=unquote(old)) == (
            waitlist.Confirmed.EXPIRED
        )
        expired = await member.post(path, params={"token": unquote(old)})
        assert 'data-state="expired"' in expired.text
        await join(member, cid, "late@example.com")
        _, new = link_in(inbox.to("late@example.com")[-1], "confirm")
        assert new != old
        stale = await member.post(path, params={"token": unquote(old)})
        assert 'data-state="unknown"' in stale.text
        assert 'data-state="confirmed"' in (await member.post(path, params={"token": new})).text


async def test_joining_again_within_minutes_sends_no_second_confirmation(
    mail_services: Services, member: httpx.AsyncClient, inbox: Inbox
) -> None:
    _, cid = await sold_out_campaign(mail_services)
    for _ in range(3):
        r = await join(member, cid, "eager@example.com")
        assert r.status_code == 303 and r.headers["location"].endswith("?waitlist=2")
    assert len(inbox.to("eager@example.com")) == 1


async def test_a_join_whose_confirmation_cannot_be_sent_says_so_and_can_be_retried(
    mail_services: Services, member: httpx.AsyncClient, inbox: Inbox
) -> None:
    _, cid = await sold_out_campaign(mail_services)
    inbox.fail_next(1)
    r = await join(member, cid, "unlucky@example.com")
    assert r.status_code == 503 and "could not be sent just now" in r.text
    r = await join(member, cid, "unlucky@example.com")
    assert r.status_code == 303 and len(inbox.to("unlucky@example.com")) == 1


async def test_odd_links_get_a_clear_page_never_a_server_error(
    mail_services: Services, member: httpx.AsyncClient
) -> None:
    _, cid = await sold_out_campaign(mail_services)
    for kind in ("confirm", "unsubscribe"):
        for token in ("", "x", "A" * 43, "A" * 44, "é" * 10, "' OR 1=1 --"):
            for method in ("GET", "POST"):
                r = await member.request(
                    method, f"/c/{cid}/waitlist/{kind}", params={"token": token}
                )
                assert r.status_code == 200, (kind, token, method, r.status_code)
                assert 'data-state="unknown"' in r.text or 'data-state="gone"' in r.text
        r = await member.get(f"/c/{cid}/waitlist/{kind}", params={"token": "A" * 500})
        assert r.status_code == 422
        missing = await member.post("/c/NoSuchCampaign1/waitlist/" + kind, params={"token": "x"})
        assert missing.status_code == 404 and "Campaign not found" in missing.text


async def test_sending_keeps_to_the_rate_and_the_next_window_carries_on(
    mail_services: Services, member: httpx.AsyncClient, inbox: Inbox
) -> None:
    from dataclasses import replace

    from domain.adapters.ratelimits import MemoryRateLimiter

    owner, cid = await sold_out_campaign(mail_services)
    for i in range(5):
        await join_and_confirm(member, inbox, cid, f"w{i}@example.com")
    await restock(mail_services, owner, cid, 5)
    paced = replace(
        mail_services,
        settings=mail_services.settings.model_copy(update={"waitlist_mail_rate": "3/day"}),
    )
    first = await one_pass(paced)
    assert (first.sent, first.rate_limited) == (3, True)
    second = await one_pass(paced)
    assert (second.sent, second.rate_limited) == (0, True)
    assert await WaitlistNotice.filter(status="pending").count() == 2
    fresh_window = replace(paced, limiter=MemoryRateLimiter())
    assert (await one_pass(fresh_window)).sent == 2
    told = sorted(m["To"] for m in inbox.about("Codes are back"))
    assert told == [f"w{i}@example.com" for i in range(5)]
