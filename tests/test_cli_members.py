"""The `codedrop members` commands, run as the real CLI process against the test database:
an owner's invitation is printed once, accepted once, and both are audited as `cli`."""

from __future__ import annotations

import asyncio
import os
import sys

from domain.models import AuditEntry, CampaignMember
from domain.settings import Settings
from tests import factories


async def codedrop(settings: Settings, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "CODEDROP_DATABASE_URL": settings.database_url}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


async def test_members_invite_and_accept_through_the_cli_once_and_audited(db: Settings) -> None:
    owner, _ = await factories.developer("Olga")
    guest, _ = await factories.developer("Gus")
    owner_email, guest_email = owner.email, guest.email
    c = await factories.campaign(owner.id, name="Cli drop")

    rc, out, err = await codedrop(
        db, "members", "invite", "--email", owner_email, "--campaign", c.id, "--role", "manager"
    )
    assert rc == 0, err
    token = out.strip().splitlines()[-1]
    assert token.startswith("cdi_")

    rc, out, err = await codedrop(db, "members", "accept", "--email", guest_email, token)
    assert rc == 0, err
    assert f"joined {c.id} (Cli drop) as manager" in out
    assert (await CampaignMember.get(developer_id=guest.id)).role == "manager"

    rc, out, err = await codedrop(db, "members", "accept", "--email", guest_email, token)
    assert rc != 0 and "already used" in err

    rc, out, err = await codedrop(db, "members", "list", "--email", guest_email, "--campaign", c.id)
    assert rc == 0 and "manager  Gus" in out and "owner    Olga  (campaign owner)" in out

    rows = await AuditEntry.filter(campaign_public_id=c.id).order_by("id")
    assert [(r.action, r.channel) for r in rows][-2:] == [
        ("member.invite", "cli"),
        ("member.join", "cli"),
    ]
    assert token not in str([(r.target, r.detail) for r in rows])
