"""Builders that create test data through the domain (never by poking rows)."""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Any

from domain import campaigns, developers, uploads
from domain.adapters.bootstrap import Services, bootstrap
from domain.adapters.events import InProcessEventBus
from domain.campaigns import CampaignView
from domain.developers import DeveloperView
from domain.settings import Settings
from domain.values import ImportReport

# the bus for domain calls whose events no test listens to (the domain requires one)
BUS = InProcessEventBus()


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
    return await import_bytes(owner_id, campaign_id, text.encode(), filename="codes.csv")


async def import_bytes(
    owner_id: int,
    campaign_id: str,
    data: bytes,
    *,
    services: Services | None = None,
    filename: str = "",
    **limits: int,
) -> ImportReport:
    """Import `data` through the domain's own admission, with the upload limits the test sets
    (`upload_max_bytes=…`, `upload_max_codes=…`, `upload_batch_size=…`) and no rate limit.

    `services` gives the test's event bus (restock notices); without it, embedded adapters."""
    base = services or bootstrap(Settings(_env_file=None))  # type: ignore[call-arg]
    svc = replace(
        base, settings=base.settings.model_copy(update={"rate_limit_enabled": False, **limits})
    )
    try:
        admitted = await uploads.admit_upload(svc, developer_id=owner_id, campaign_id=campaign_id)
        return await uploads.import_stream(
            svc, admitted, chunks=uploads.bytes_chunks(data), filename=filename
        )
    finally:
        if services is None:
            await base.close()


def codes_csv(n: int, prefix: str = "CODE", platform: str | None = None) -> str:
    if platform:
        return "code,platform\n" + "".join(f"{prefix}{i:06d},{platform}\n" for i in range(n))
    return "code\n" + "".join(f"{prefix}{i:06d}\n" for i in range(n))
