from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from tests import factories


@dataclass
class Dev:
    id: int
    key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture
async def dev(services: object) -> Dev:
    d, key = await factories.developer("Alice")
    return Dev(d.id, key)


@pytest.fixture
async def other_dev(services: object) -> Dev:
    d, key = await factories.developer("Mallory")
    return Dev(d.id, key)


async def new_campaign(client: httpx.AsyncClient, dev: Dev, **fields: object) -> str:
    body = {"name": "Launch", **fields}
    r = await client.post("/api/campaigns", json=body, headers=dev.auth)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def upload(
    client: httpx.AsyncClient, dev: Dev, cid: str, content: bytes, name: str = "codes.csv"
) -> httpx.Response:
    return await client.post(
        f"/api/campaigns/{cid}/codes", files={"file": (name, content, "text/csv")}, headers=dev.auth
    )
