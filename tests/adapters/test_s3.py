"""S3ObjectStore against a real S3-protocol server (moto over HTTP)."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from domain.adapters.s3 import S3ObjectStore
from domain.errors import ValidationFailed
from tests.fakes.s3 import s3_settings_for


async def test_an_object_put_can_be_sized_streamed_and_deleted(s3_store: S3ObjectStore) -> None:
    await s3_store.put("reports/1/2026-01-01.csv", b"a,b\r\n1,2\r\n", content_type="text/csv")

    assert await s3_store.size("reports/1/2026-01-01.csv") == 10
    chunks = [c async for c in s3_store.stream("reports/1/2026-01-01.csv", chunk_size=4)]
    assert b"".join(chunks) == b"a,b\r\n1,2\r\n"
    assert len(chunks) == 3

    await s3_store.delete("reports/1/2026-01-01.csv")
    assert await s3_store.size("reports/1/2026-01-01.csv") is None


async def test_a_missing_object_has_no_size_and_deleting_it_is_harmless(
    s3_store: S3ObjectStore,
) -> None:
    assert await s3_store.size("nothing/here.csv") is None
    await s3_store.delete("nothing/here.csv")


async def test_a_large_file_is_stored_in_multipart_without_loading_it(
    s3_store: S3ObjectStore, tmp_path: Path
) -> None:
    source = tmp_path / "big.bin"
    payload = os.urandom(1024 * 1024) * 20  # 20 MiB: above the multipart threshold
    source.write_bytes(payload)

    await s3_store.put_file("archives/big.bin", source)

    assert await s3_store.size("archives/big.bin") == len(payload)
    received = bytearray()
    async for chunk in s3_store.stream("archives/big.bin", chunk_size=1 << 20):
        received += chunk
    assert bytes(received) == payload


async def test_a_presigned_put_url_accepts_a_plain_http_upload(s3_store: S3ObjectStore) -> None:
    url = await s3_store.presigned_put_url("uploads/c1/upl_x.csv", expires_in=600)
    assert url is not None
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=600" in url

    payload = b"code\nAAAA1111\nBBBB2222\n"
    async with httpx.AsyncClient() as http:
        response = await http.put(url, content=payload)
    assert response.status_code == 200

    assert await s3_store.size("uploads/c1/upl_x.csv") == len(payload)
    assert b"".join([c async for c in s3_store.stream("uploads/c1/upl_x.csv")]) == payload


async def test_presigned_urls_can_name_a_public_endpoint(
    moto_endpoint: str, tmp_path: Path
) -> None:
    from domain.settings import Settings

    base = Settings(_env_file=None, environment="test", storage_dir=tmp_path)  # type: ignore[call-arg]
    settings = s3_settings_for(base, moto_endpoint).model_copy(
        update={"s3_public_endpoint_url": "https://files.example.com"}
    )
    store = S3ObjectStore.from_settings(settings)

    url = await store.presigned_put_url("uploads/a.csv")

    assert url is not None
    assert url.startswith(f"https://files.example.com/{settings.s3_bucket}/uploads/a.csv?")


async def test_keys_that_escape_the_bucket_layout_are_refused(s3_store: S3ObjectStore) -> None:
    for bad in ("", "/abs/key", "a/../b"):
        with pytest.raises(ValidationFailed):
            await s3_store.put(bad, b"x")


async def test_health_reports_a_missing_bucket(s3_store: S3ObjectStore, moto_endpoint: str) -> None:
    assert await s3_store.healthy()
    other = S3ObjectStore(bucket="no-such-bucket-here", client=s3_store._client)
    assert not await other.healthy()
