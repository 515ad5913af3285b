"""Builders for the waitlist e-mail tests: campaigns sold out and restocked through the
domain, members joining through the claim page, one pass of the notice sender."""

from __future__ import annotations

import secrets

import httpx

from domain import claims
from domain.adapters.bootstrap import Services
from domain.adapters.mail import mail_setup
from domain.values import Channel, Claimant
from domain.waitlist_notices import NoticePass, send_pass
from tests import factories
from tests.mail.conftest import Inbox, link_in
from tests.web.conftest import csrf_of


async def sold_out_campaign(services: Services, **fields: object) -> tuple[int, str]:
    """A published campaign whose only code was claimed: sold out, waitlist open."""
    dev, _ = await factories.developer("Owner")
    c = await factories.campaign(dev.id, **fields)
    await restock(services, dev.id, c.id, 1)
    await sell_out(services, c.id)
    return dev.id, c.id


async def restock(services: Services, owner_id: int, campaign_id: str, n: int) -> None:
    """Upload `n` new codes (a sold-out campaign opens again)."""
    prefix = "R" + secrets.token_hex(3).upper()
    await factories.import_bytes(
        owner_id,
        campaign_id,
        factories.codes_csv(n, prefix=prefix).encode(),
        services=services,
        filename="codes.csv",
    )


async def sell_out(services: Services, campaign_id: str) -> None:
    """Claim codes until none is left."""
    while True:
        try:
            await claims.claim(
                campaign_id=campaign_id,
                claimant=Claimant.of("web", secrets.token_hex(6)),
                channel=Channel.WEB,
                events_bus=services.events,
            )
        except Exception as exc:  # the domain's refusal once the stock is gone
            assert getattr(exc, "code", "") in ("sold_out", "campaign_not_active"), exc
            return


async def join(member: httpx.AsyncClient, campaign_id: str, address: str) -> httpx.Response:
    """Join the waitlist through the claim page's form."""
    page = await member.get(f"/c/{campaign_id}")
    return await member.post(
        f"/c/{campaign_id}/waitlist", data={"csrf_token": csrf_of(page.text), "email": address}
    )


async def join_and_confirm(
    member: httpx.AsyncClient, inbox: Inbox, campaign_id: str, address: str
) -> None:
    """Join, then follow the confirmation mail's link and press its button."""
    r = await join(member, campaign_id, address)
    assert r.status_code == 303, r.text
    path, token = link_in(inbox.to(address)[-1], "confirm")
    done = await member.post(path, params={"token": token})
    assert done.status_code == 200 and 'data-state="confirmed"' in done.text


async def one_pass(services: Services) -> NoticePass:
    s = services.settings
    return await send_pass(setup=mail_setup(s), limiter=services.limiter, rate=s.waitlist_mail_rate)
