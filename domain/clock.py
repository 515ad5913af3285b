"""The domain's clock: UTC now, which tests can move (lifecycle edges, archival ages)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from domain.errors import ValidationFailed

# Moments a campaign may carry: later than any real launch could precede, and inside what
# every database column holds (MariaDB DATETIME stops at 9999-12-31).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, tzinfo=UTC)

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


def checked_utc(moment: datetime | None, *, field: str) -> datetime | None:
    """`as_utc`, refusing moments outside 1970-01-01..9999-12-31 UTC by naming the field
    (`0001-01-01T00:00:00+14:00` has no UTC value at all)."""
    try:
        value = as_utc(moment)
    except OverflowError:
        value = EARLIEST - timedelta(days=1)
    if value is not None and not EARLIEST <= value <= LATEST:
        raise ValidationFailed(
            f"{field} must be between 1970-01-01 and 9999-12-30 (UTC).", field=field
        )
    return value
