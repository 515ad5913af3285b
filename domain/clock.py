"""The domain's clock: UTC now, which tests can move (lifecycle edges, archival ages)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

_offset = timedelta(0)
_frozen: datetime | None = None


def now() -> datetime:
    """The current time in UTC (as the domain sees it)."""
    if _frozen is not None:
        return _frozen
    return datetime.now(UTC) + _offset


@contextmanager
def frozen_at(moment: datetime) -> Iterator[None]:
    """Make `now()` return `moment` inside the block (tests and `codedrop jobs run --at`)."""
    global _frozen
    previous = _frozen
    _frozen = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    try:
        yield
    finally:
        _frozen = previous


def as_utc(moment: datetime | None) -> datetime | None:
    """In UTC: naive datetimes are taken as UTC (what clients usually mean), others converted."""
    if moment is None:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
