"""Two sender processes at once on MariaDB: every confirmed address gets exactly one notice."""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import unquote

import pytest

from domain import waitlist
from domain.adapters.bootstrap import Services
from domain.adapters.mail import mail_setup
from domain.models import WaitlistNotice, WaitlistRestock
from tests.mail.conftest import Inbox, link_in
from tests.mail.helpers import restock, sold_out_campaign

ROOT = Path(__file__).resolve().parents[2]
WAITERS = 60


async def _spawn(database_url: str, port: int, storage: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.mail.sender_worker",
        database_url,
        str(port),
        str(storage),
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )


async def test_two_sender_processes_at_once_tell_each_address_exactly_once(
    mail_services: Services,
    smtp_server: tuple[Inbox, int],
    tmp_path: Path,
) -> None:
    settings = mail_services.settings
    if not settings.is_mysql:
        pytest.skip("two processes share the database on MariaDB")
    inbox, port = smtp_server
    owner, cid = await sold_out_campaign(mail_services)
    addresses = [f"waiter{i:03d}@example.com" for i in range(WAITERS)]
    setup = mail_setup(settings)
    for address in addresses:
        await waitlist.join_by_email(campaign_id=cid, address=address, setup=setup)
        _, token = link_in(inbox.to(address)[-1], "confirm")
        assert await waitlist.confirm(campaign_id=cid, token=unquote(token)) == (
            waitlist.Confirmed.CONFIRMED
        )
    await restock(mail_services, owner, cid, 10)

    procs = [await _spawn(settings.database_url, port, tmp_path) for _ in range(2)]
    for p in procs:
        assert p.stdout is not None
        assert (await asyncio.wait_for(p.stdout.readline(), 60)).strip() == b"ready"
    for p in procs:  # both start together
        assert p.stdin is not None
        p.stdin.write(b"go\n")
        await p.stdin.drain()
    outputs = [await asyncio.wait_for(p.communicate(), 120) for p in procs]
    totals = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    assert all(p.returncode == 0 for p in procs)

    told = Counter(m["To"] for m in inbox.about("Codes are back"))
    assert told == Counter(addresses), "every address once, none twice"
    assert sum(t["sent"] for t in totals) == WAITERS
    assert sum(t["restocks_opened"] for t in totals) == 1
    assert await WaitlistRestock.filter(campaign__public_id=cid).count() == 1
    assert await WaitlistNotice.filter(status="sent").count() == WAITERS
    assert await WaitlistNotice.all().count() == WAITERS
