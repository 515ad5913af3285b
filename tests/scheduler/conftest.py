"""Fixtures of the scheduler tests: recording event bus and notifier, S3 on moto."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from domain.adapters.bootstrap import Services, bootstrap
from domain.adapters.ratelimits import MemoryRateLimiter
from domain.adapters.storage import LocalObjectStore
from domain.events import Event
from domain.settings import Settings
from tests.fakes.s3 import moto_endpoint, s3_store

__all__ = ["moto_endpoint", "s3_store"]


class RecordingEvents:
    """An EventBus that keeps what was published (the bus interface, not a mock of a rule)."""

    def __init__(self) -> None:
        self.published: list[Event] = []

    async def publish(self, event: Event) -> None:
        self.published.append(event)

    async def subscribe(self) -> AsyncIterator[Event]:
        for event in list(self.published):
            yield event

    async def healthy(self) -> bool:
        return True

    async def close(self) -> None:
        return None

    def named(self, name: str) -> list[Event]:
        return [e for e in self.published if e.name == name]


@dataclass
class RecordingNotifier:
    """A bot sender (the `Notifier` interface) that records what it was asked to send."""

    provider: str
    reachable: bool = True
    sent: list[tuple[str, str]] = field(default_factory=list)

    async def send(self, chat_id: str, text: str) -> bool:
        self.sent.append((chat_id, text))
        return self.reachable


@pytest.fixture
async def recorded(db: Settings, tmp_path: Path) -> AsyncIterator[tuple[Services, RecordingEvents]]:
    """Services over the test database whose events are recorded, with a fresh object store."""
    bus = RecordingEvents()
    svc = bootstrap(
        db, events=bus, limiter=MemoryRateLimiter(), store=LocalObjectStore(tmp_path / "objects")
    )
    try:
        yield svc, bus
    finally:
        await svc.close()
