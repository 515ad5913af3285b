"""Sending a webhook request over HTTP (httpx): the one module that does.

The request goes to an address the caller already checked (domain.webhooks.check_target),
not to whatever the name resolves to a moment later: the URL's host is replaced by that
address, the `Host` header keeps the name, and TLS verifies the certificate against the
name (httpx's `sni_hostname`). Redirects are not followed (a 3xx is a failed attempt), so a
receiver cannot bounce a delivery to an address the check refused.
"""

from __future__ import annotations

import httpx

from domain.webhook_dispatch import RESPONSE_KEPT, Answer


class WebhookSender:
    """One pooled httpx client with timeouts; `close()` when the process stops."""

    def __init__(self, *, timeout: float) -> None:
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            follow_redirects=False,
            trust_env=False,
            headers={"user-agent": "codedrop-webhooks/1"},
        )

    async def send(self, url: str, address: str, body: bytes, headers: dict[str, str]) -> Answer:
        """POST `body` to `url`, connecting to `address`; never raises for network trouble."""
        target = httpx.URL(url)
        host = target.host
        pinned = target.copy_with(host=address)
        extensions = {"sni_hostname": host} if target.scheme == "https" else {}
        netloc = host if target.port is None else f"{host}:{target.port}"
        request = self._client.build_request(
            "POST",
            pinned,
            content=body,
            headers={**headers, "host": netloc, "content-type": "application/json"},
            extensions=extensions,
        )
        try:
            response = await self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            return Answer(None, "", f"{type(exc).__name__}: {exc}"[:300])
        try:
            kept = b""
            async for chunk in response.aiter_bytes():
                kept += chunk
                if len(kept) >= RESPONSE_KEPT:
                    break
        except httpx.HTTPError as exc:
            return Answer(response.status_code, "", f"{type(exc).__name__}: {exc}"[:300])
        finally:
            await response.aclose()
        return Answer(response.status_code, kept[:RESPONSE_KEPT].decode("utf-8", "replace"), "")

    async def close(self) -> None:
        await self._client.aclose()
