"""Builders that create test data through the domain (never by poking rows)."""

from __future__ import annotations

import secrets
from typing import Any

from domain import campaigns, developers, uploads
from domain.campaigns import CampaignView
from domain.developers import DeveloperView
from domain.values import ImportReport


async def developer(name: str = "Dev") -> tuple[DeveloperView, str]:
    """A developer and a fresh API key for them."""
    dev = await developers.create_developer(
        name=name, email=f"{name.lower().replace(' ', '')}-{secrets.token_hex(3)}@example.com"
    )
    key = await developers.issue_key(developer_id=dev.id)
    return dev, key.key


async def campaign(owner_id: int, **fields: Any) -> CampaignView:
    fields.setdefault("name", "Launch week")
    return await campaigns.create_campaign(owner_id=owner_id, **fields)


async def upload_codes(owner_id: int, campaign_id: str, text: str) -> ImportReport:
    return await uploads.import_stream(
        owner_id=owner_id,
        campaign_id=campaign_id,
        chunks=uploads.bytes_chunks(text.encode()),
        filename="codes.csv",
        max_bytes=16 * 1024 * 1024,
        max_codes=100_000,
    )


def codes_csv(n: int, prefix: str = "CODE", platform: str | None = None) -> str:
    if platform:
        return "code,platform\n" + "".join(f"{prefix}{i:06d},{platform}\n" for i in range(n))
    return "code\n" + "".join(f"{prefix}{i:06d}\n" for i in range(n))
