"""/docs and /redoc work without internet: every script, style and icon they load is served
by the app itself (assets shipped by fastapi-offline), none from a CDN."""

from __future__ import annotations

import re

import httpx
import pytest


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_api_docs_load_every_asset_from_the_app_itself(
    client: httpx.AsyncClient, page: str
) -> None:
    html = (await client.get(page)).text
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets, html
    for url in assets:
        assert url.startswith("/"), f"{page} loads {url} from elsewhere"
        asset = await client.get(url)
        assert asset.status_code == 200 and len(asset.content) > 100, url
    assert "fonts.googleapis" not in html and "cdn." not in html
