"""A real S3-protocol server for tests: moto in server mode (`ThreadedMotoServer`) on a free
port. boto3 talks HTTP to it through `endpoint_url`, exactly as it would to MinIO or R2.

Use the fixtures by importing them into a conftest: `moto_endpoint` (session), `s3_settings`
(settings with a fresh bucket) and `s3_store` (an `S3ObjectStore` on that bucket).
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer
from pydantic import SecretStr

from domain.adapters.s3 import S3ObjectStore
from domain.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """The URL of a moto S3 server running for the whole session."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def s3_settings_for(base: Settings, endpoint: str, bucket: str | None = None) -> Settings:
    """`base` pointed at the moto server and a fresh bucket."""
    return base.model_copy(
        update={
            "s3_bucket": bucket or f"codedrop-test-{secrets.token_hex(4)}",
            "s3_endpoint_url": endpoint,
            "s3_region": "us-east-1",
            "s3_access_key_id": "testing",
            "s3_secret_access_key": SecretStr("testing"),
        }
    )


@pytest.fixture
async def s3_store(moto_endpoint: str, tmp_path: Path) -> AsyncIterator[S3ObjectStore]:
    """An S3ObjectStore on a fresh bucket of the moto server."""
    base = Settings(_env_file=None, environment="test", storage_dir=tmp_path)  # type: ignore[call-arg]
    store = S3ObjectStore.from_settings(s3_settings_for(base, moto_endpoint))
    await store.ensure_bucket()
    yield store
