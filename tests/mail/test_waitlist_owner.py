"""The owner's side of the e-mail waitlist: the CSV export, and addresses deleted with the
campaign and 30 days after it ended; the embedded default without SMTP."""

from __future__ import annotations

import csv
import io
import logging
from datetime import timedelta
from urllib.parse import unquote

import httpx
import pytest

from domain import access, campaigns, clock, waitlist
from domain.adapters.bootstrap import Services
from domain.adapters.mail import mail_setup
from domain.campaign_state import Action
from domain.cleanup import run_cleanup
from domain.models import WaitlistEntry, WaitlistNotice, WaitlistRestock
from domain.settings import Settings
from domain.values import Claimant
from tests import factories
from tests.mail.conftest import Inbox, link_in
from tests.mail.helpers import join, one_pass, restock, sold_out_campaign


async def _confirmed(services: Services, inbox: Inbox, cid: str, address: str) -> None:
    setup = mail_setup(services.settings)
    await waitlist.join_by_email(campaign_id=cid, address=address, setup=setup)
    _, token = link_in(inbox.to(address)[-1], "confirm")
    assert await waitlist.confirm(campaign_id=cid, token=unquote(token)) == (
        waitlist.Confirmed.CONFIRMED
    )


async def test_the_owner_exports_the_waitlist_as_csv_and_others_may_not(
    mail_services: Services, mail_app: object, inbox: Inbox
) -> None:
    owner = await factories.developer("Owner")
    c = await factories.campaign(owner[0].id)
    await restock(mail_services, owner[0].id, c.id, 1)
    await _confirmed(mail_services, inbox, c.id, "fan@example.com")
    await waitlist.join_by_email(
        campaign_id=c.id, address="=1+2@example.com", setup=mail_setup(mail_services.settings)
    )
    await waitlist.join(
        campaign_id=c.id, claimant=Claimant.of("telegram", 42), channel="telegram", contact="42"
    )
    stranger = await factories.developer("Stranger")
    viewer = await factories.developer("Viewer")
    issued = await access.invite(campaign_id=c.id, developer_id=owner[0].id, role="manager")
    await access.accept(token=issued.token, developer_id=viewer[0].id)

    transport = httpx.ASGITransport(app=mail_app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:

        async def export(key: str) -> httpx.Response:
            return await http.get(
                f"/api/campaigns/{c.id}/waitlist.csv", headers={"Authorization": f"Bearer {key}"}
            )

        r = await export(owner[1])
        assert (await export(stranger[1])).status_code == 404
        assert (await export(viewer[1])).status_code == 403
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.headers["cache-control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(row["channel"], row["contact"]) for row in rows] == [
        ("web", "fan@example.com"),
        ("web", "'=1+2@example.com"),  # a spreadsheet does not run it
        ("telegram", "42"),
    ]
    assert rows[0]["confirmed_at"] and not rows[1]["confirmed_at"]
    assert list(rows[0]) == waitlist.EXPORT_COLUMNS
    # read in batches: a batch boundary loses and repeats no row
    chunks = await waitlist.export_csv(developer_id=owner[0].id, campaign_id=c.id, batch=2)
    assert "".join([chunk async for chunk in chunks]) == r.text


async def test_a_deleted_campaign_takes_its_addresses_restocks_and_notices_along(
    mail_services: Services, inbox: Inbox
) -> None:
    owner, cid = await sold_out_campaign(mail_services)
    await _confirmed(mail_services, inbox, cid, "fan@example.com")
    await restock(mail_services, owner, cid, 2)
    assert (await one_pass(mail_services)).sent == 1
    assert await WaitlistNotice.all().count() == 1
    await campaigns.delete_campaign(owner_id=owner, campaign_id=cid)
    assert await WaitlistEntry.all().count() == 0
    assert await WaitlistRestock.all().count() == 0
    assert await WaitlistNotice.all().count() == 0


async def test_addresses_go_30_days_after_the_campaign_ended_not_while_it_is_sold_out(
    mail_services: Services, inbox: Inbox
) -> None:
    owner, archived = await sold_out_campaign(mail_services)
    _, sold_out = await sold_out_campaign(mail_services)
    ended_owner = await factories.developer("Ender")
    ended = await factories.campaign(ended_owner[0].id)
    await restock(mail_services, ended_owner[0].id, ended.id, 1)
    for cid in (archived, sold_out, ended.id):
        await _confirmed(mail_services, inbox, cid, f"fan-{cid}@example.com")
    await campaigns.act(
        developer_id=owner,
        campaign_id=archived,
        action=Action.ARCHIVE,
        events_bus=mail_services.events,
    )
    await campaigns.act(
        events_bus=factories.BUS,
        developer_id=ended_owner[0].id,
        campaign_id=ended.id,
        action=Action.END,
    )
    ttl = {
        "upload_object_ttl": timedelta(hours=24),
        "upload_session_ttl": timedelta(hours=24),
        "idempotency_ttl": timedelta(hours=24),
        "waitlist_ttl": timedelta(days=30),
    }
    with clock.frozen_at(clock.now() + timedelta(days=29)):
        assert (await run_cleanup(store=mail_services.store, **ttl)).waitlist_entries_deleted == 0
    with clock.frozen_at(clock.now() + timedelta(days=31)):
        result = await run_cleanup(store=mail_services.store, **ttl)
    assert result.waitlist_entries_deleted == 2
    left = await WaitlistEntry.all().values_list("contact", flat=True)
    assert left == [f"fan-{sold_out}@example.com"]


async def test_without_smtp_the_page_says_no_mail_is_sent_and_the_log_hides_the_address(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    from api.app import create_app

    assert not services.settings.sends_mail
    _, cid = await sold_out_campaign(services)
    app = create_app(services.settings, services, manage_database=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as member:
        page = await member.get(f"/c/{cid}")
        assert "This server does not send e-mail itself" in page.text
        with caplog.at_level(logging.INFO, logger="domain.adapters.mail"):
            r = await join(member, cid, "private.person@example.com")
        assert r.status_code == 303 and r.headers["location"].endswith("?waitlist=1")
        shown = await member.get(r.headers["location"])
    assert "this server sends no e-mail by itself" in shown.text
    assert "p***@example.com" in caplog.text and "private.person" not in caplog.text
    entry = await WaitlistEntry.get(contact="private.person@example.com")
    assert entry.confirmed_at is None
    result = await one_pass(services)
    assert result.as_dict() == type(result)().as_dict(), "no transport: nothing is done"


def test_an_smtp_url_of_another_scheme_is_refused_without_repeating_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from click.testing import CliRunner

    from cli.main import cli

    monkeypatch.setenv("CODEDROP_SMTP_URL", "http://user:hunter2@mail.example.com")
    out = CliRunner().invoke(cli, ["settings"])
    assert out.exit_code != 0
    assert "CODEDROP_SMTP_URL must look like smtp://" in out.output
    assert "hunter2" not in out.output
    ok = Settings(_env_file=None, smtp_url="smtps://u:hunter2@mail.example.com")  # type: ignore[call-arg]
    assert "hunter2" not in repr(ok) and "hunter2" not in str(ok.model_dump())


async def test_a_campaign_with_its_waitlist_switched_off_takes_no_address(
    mail_services: Services,
) -> None:
    _, cid = await sold_out_campaign(mail_services, waitlist_enabled=False)
    with pytest.raises(Exception) as caught:
        await waitlist.join_by_email(
            campaign_id=cid, address="a@example.com", setup=mail_setup(mail_services.settings)
        )
    assert getattr(caught.value, "code", "") == "validation_error"
    assert not await WaitlistEntry.all().exists()
