"""Timers that open a campaign's posted cards at its start, the same in both bots.

A card posted before `starts_at` shows a countdown and no working button; at the start the
bot edits it. One timer per campaign per process (arming again moves it), firing a hair after
the start so the edited card reads "open" even if the event loop's clock runs slightly ahead
of the wall clock. The lifecycle job's start announcement refreshes the cards as well, so a
process that was down at the start still opens them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from domain import clock

OPEN_MARGIN = timedelta(milliseconds=50)


class StartTimers:
    """`open_at(campaign, starts_at)` calls `on_open(campaign)` at that moment."""

    def __init__(self, on_open: Callable[[str], None]) -> None:
        self._on_open = on_open
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def open_at(self, campaign_id: str, starts_at: datetime) -> None:
        """(Re)arm the campaign's timer for `starts_at` (at once if it has passed)."""
        delay = (starts_at + OPEN_MARGIN - clock.now()).total_seconds()
        previous = self._timers.pop(campaign_id, None)
        if previous is not None:
            previous.cancel()
        self._timers[campaign_id] = asyncio.get_running_loop().call_later(
            max(0.0, delay), self._fire, campaign_id
        )

    @property
    def waiting(self) -> set[str]:
        """The campaigns this process will open at their start."""
        return set(self._timers)

    def cancel_all(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    def _fire(self, campaign_id: str) -> None:
        self._timers.pop(campaign_id, None)
        self._on_open(campaign_id)
