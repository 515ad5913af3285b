"""The `ObjectStore` interface: uploaded CSVs, archives and reports live here.

A local folder by default, S3 (or any S3-compatible store) when `S3_BUCKET` is set
(domain/adapters/storage.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol


class ObjectStore(Protocol):
    async def put(
        self, key: str, data: bytes, *, content_type: str = "application/octet-stream"
    ) -> None: ...

    async def put_file(self, key: str, source: Path) -> None:
        """Store a local file under `key` without reading it into memory."""
        ...

    def stream(self, key: str, *, chunk_size: int = 64 * 1024) -> AsyncIterator[bytes]: ...

    async def size(self, key: str) -> int | None:
        """Bytes stored under `key`, or None when there is no such object."""
        ...

    async def delete(self, key: str) -> None: ...

    async def presigned_put_url(self, key: str, *, expires_in: int = 3600) -> str | None:
        """A URL a client can PUT the object to directly, or None when the store has none."""
        ...

    async def healthy(self) -> bool: ...
