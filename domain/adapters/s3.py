"""ObjectStore on S3 or any S3-compatible store (MinIO, Cloudflare R2) through boto3.

boto3 is synchronous: every call runs in a worker thread (`asyncio.to_thread`), so the event
loop never blocks on the network. One client per store (boto3 clients are thread-safe).
Presigned URLs can be signed for a different endpoint than the one the server talks to
(`s3_public_endpoint_url`), for deployments where the server reaches MinIO as
`http://minio:9000` while clients reach it through a public name.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from domain.errors import ValidationFailed
from domain.settings import Settings

log = logging.getLogger(__name__)

# multipart above 16 MiB, 8 MiB parts: bounded memory for large archives and uploads
TRANSFER = TransferConfig(multipart_threshold=16 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024)


def _client(settings: Settings, endpoint_url: str | None) -> Any:
    config = Config(
        signature_version="s3v4",
        retries={"max_attempts": 5, "mode": "standard"},
        connect_timeout=5,
        read_timeout=60,
        # MinIO and most S3-compatible stores want path-style URLs
        s3={"addressing_style": "path" if endpoint_url else "auto"},
    )
    secret = settings.s3_secret_access_key
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key_id,
        aws_secret_access_key=secret.get_secret_value() if secret else None,
        config=config,
    )


def _missing(exc: ClientError) -> bool:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


class S3ObjectStore:
    """Objects in one S3 bucket; keys are used as given (no leading slash)."""

    def __init__(self, *, bucket: str, client: Any, presign_client: Any | None = None) -> None:
        self.bucket = bucket
        self._client = client
        self._presign = presign_client or client

    @classmethod
    def from_settings(cls, settings: Settings) -> S3ObjectStore:
        """A store for `settings.s3_bucket` on AWS or the configured S3-compatible endpoint."""
        if not settings.s3_bucket:
            raise ValueError("s3_bucket is not set")
        client = _client(settings, settings.s3_endpoint_url)
        presign = None
        if settings.s3_public_endpoint_url:
            presign = _client(settings, settings.s3_public_endpoint_url)
        return cls(bucket=settings.s3_bucket, client=client, presign_client=presign)

    @staticmethod
    def _check(key: str) -> str:
        if not key or key.startswith("/") or ".." in key.split("/"):
            raise ValidationFailed(f"bad object key {key!r}", field="key")
        return key

    async def ensure_bucket(self) -> None:
        """Create the bucket when it does not exist (development; `codedrop create-bucket` in compose)."""

        def run() -> None:
            try:
                self._client.head_bucket(Bucket=self.bucket)
            except ClientError as exc:
                if not _missing(exc):
                    raise
                self._client.create_bucket(Bucket=self.bucket)
                log.info("created bucket %s", self.bucket)

        await asyncio.to_thread(run)

    async def put(
        self, key: str, data: bytes, *, content_type: str = "application/octet-stream"
    ) -> None:
        await asyncio.to_thread(
            self._client.put_object,
            Bucket=self.bucket,
            Key=self._check(key),
            Body=data,
            ContentType=content_type,
        )

    async def put_file(self, key: str, source: Path) -> None:
        await asyncio.to_thread(
            self._client.upload_file,
            str(source),
            self.bucket,
            self._check(key),
            Config=TRANSFER,
        )

    async def stream(self, key: str, *, chunk_size: int = 64 * 1024) -> AsyncIterator[bytes]:
        response = await asyncio.to_thread(
            self._client.get_object, Bucket=self.bucket, Key=self._check(key)
        )
        body = response["Body"]
        try:
            while chunk := await asyncio.to_thread(body.read, chunk_size):
                yield chunk
        finally:
            body.close()

    async def size(self, key: str) -> int | None:
        try:
            head = await asyncio.to_thread(
                self._client.head_object, Bucket=self.bucket, Key=self._check(key)
            )
        except ClientError as exc:
            if _missing(exc):
                return None
            raise
        return int(head["ContentLength"])

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(
            self._client.delete_object, Bucket=self.bucket, Key=self._check(key)
        )

    async def presigned_put_url(self, key: str, *, expires_in: int = 3600) -> str | None:
        url = await asyncio.to_thread(
            self._presign.generate_presigned_url,
            "put_object",
            Params={"Bucket": self.bucket, "Key": self._check(key)},
            ExpiresIn=expires_in,
            HttpMethod="PUT",
        )
        return str(url)

    async def healthy(self) -> bool:
        try:
            await asyncio.to_thread(self._client.head_bucket, Bucket=self.bucket)
        except (ClientError, BotoCoreError) as exc:
            log.warning("S3 bucket %s is not reachable: %s", self.bucket, exc)
            return False
        return True
