"""Domain events and the `EventBus` interface they travel on.

In-process by default; Redis pub/sub when `REDIS_URL` is set (domain/adapters/events.py), so
every API replica and bot sees every event. Delivery is best effort: the database stays the
truth, events only tell listeners to look.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Protocol

from domain import clock

CODE_CLAIMED = "code_claimed"
LOW_STOCK = "low_stock"
SOLD_OUT = "sold_out"
UPLOAD_FINISHED = "upload_finished"
CODES_RESTOCKED = "codes_restocked"
CAMPAIGN_STATUS_CHANGED = "campaign_status_changed"
EXPIRING_SOON = "expiring_soon"


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened to a campaign. `data` never holds a full code."""

    name: str
    campaign_id: str
    owner_id: int
    data: dict[str, Any] = field(default_factory=dict)
    at: datetime = field(default_factory=clock.now)

    def to_json(self) -> str:
        payload = asdict(self)
        payload["at"] = self.at.isoformat()
        return json.dumps(payload, default=str)

    @classmethod
    def from_json(cls, raw: str | bytes) -> Event:
        payload = json.loads(raw)
        payload["at"] = datetime.fromisoformat(payload["at"])
        return cls(**payload)


class EventBus(Protocol):
    """Publish domain events; subscribe to all of them."""

    async def publish(self, event: Event) -> None: ...

    def subscribe(self) -> AsyncIterator[Event]: ...

    async def healthy(self) -> bool: ...

    async def close(self) -> None: ...
