"""A campaign's lifecycle in one place: its statuses, what moves it, whether it is open, and
its stock flags. Every status change in the code base is written here.

Owners move a campaign with an `Action` (the dashboard's buttons, the bots' /pause /resume
/end commands, the API's status change mapped by `action_to`); `domain.campaigns.act`
applies it. The table `TRANSITIONS` is the only list of allowed owner moves:

    draft ──publish──▶ active ◀──resume── paused
      │                 │  ▲                 ▲
      │                 │  └────pause────────┘ (pause: active → paused)
      └──────end────────┴──────end──────▶ completed ──archive──▶ archived
                                           │
                                           └──reopen──▶ active

The clock and the stock move campaigns too (`Move`, `AUTOMATIC`): anything running ends at
`ends_at`, an active campaign completes when it sells out and reopens when codes come back
(a restock, a released code) before its end.

A scheduled campaign is an active campaign with a future `starts_at`: `openness` answers
not-started before that second and open from it, so claims open on time without any job.
The lifecycle job only announces the start (`announce_start`: the event and the owner's
webhook, once, marked by `start_announced_at`). A draft with a `starts_at` keeps its older
meaning, "publish at the start": the job publishes it at its next run (`Move.STARTED`, up to
a minute late, announced in the same write); publish it to have it open to the second.

A new campaign starts as a draft or active (`initial_status`); `reopen` takes a completed
campaign back to `active` while its window has not ended. `archived` is the end of the line:
the campaign is left out of default listings (`list_campaigns` shows it when asked for by
status), refuses every change (fields, status moves, uploads, generated codes:
`require_changeable` and the table) and serves no claim; it stays readable, exportable, and
its owner may still delete it.

Whether a campaign serves claims is decided once, by `openness`; the claim's refusal
(`check_open`), the member's card (`public_state`) and the owner's word (`owner_state`) are
derived from it. The stock flags: `low_stock_alerted` flips once per crossing under the
threshold (`alert_low_stock`) until stock is back above it (`rearm_low_stock`); sold out is
the status `completed` with `completed_reason` "sold_out" (`mark_sold_out`,
`reopen_if_sold_out`).

Every write is one conditional UPDATE (the row must still be in the status we read), so two
processes, or the scheduler racing an owner, change a campaign once and announce it once.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from domain import events, outbox
from domain.campaign_reads import forget_card
from domain.errors import (
    CampaignEnded,
    CampaignNotActive,
    CampaignNotStarted,
    Conflict,
    SoldOut,
    ValidationFailed,
)
from domain.events import Event, EventBus
from domain.models import Campaign
from domain.values import CampaignStatus


class Action(StrEnum):
    """What an owner can do to a campaign's status."""

    PUBLISH = "publish"
    PAUSE = "pause"
    RESUME = "resume"
    END = "end"
    REOPEN = "reopen"
    ARCHIVE = "archive"

    @classmethod
    def parse(cls, value: str) -> Action:
        """The action named by `value` (as typed by a person or sent by a client)."""
        try:
            return cls(value.strip().lower())
        except ValueError:
            names = ", ".join(a.value for a in cls)
            raise ValidationFailed(f"Unknown action {value!r}; use one of: {names}.") from None


S = CampaignStatus
TRANSITIONS: dict[tuple[CampaignStatus, Action], CampaignStatus] = {
    (S.DRAFT, Action.PUBLISH): S.ACTIVE,
    (S.DRAFT, Action.END): S.COMPLETED,
    (S.ACTIVE, Action.PAUSE): S.PAUSED,
    (S.ACTIVE, Action.END): S.COMPLETED,
    (S.PAUSED, Action.RESUME): S.ACTIVE,
    (S.PAUSED, Action.END): S.COMPLETED,
    (S.COMPLETED, Action.REOPEN): S.ACTIVE,
    (S.COMPLETED, Action.ARCHIVE): S.ARCHIVED,
}


class Move(StrEnum):
    """What the clock and the stock do to a campaign (the `reason` its events carry)."""

    STARTED = "started"
    ENDED = "ended"
    SOLD_OUT = "sold_out"
    RESTOCKED = "restocked"


# each automatic move: the statuses it applies to, and the status it leads to
AUTOMATIC: dict[Move, tuple[frozenset[CampaignStatus], CampaignStatus]] = {
    Move.STARTED: (frozenset({S.DRAFT}), S.ACTIVE),
    Move.ENDED: (frozenset({S.DRAFT, S.ACTIVE, S.PAUSED}), S.COMPLETED),
    Move.SOLD_OUT: (frozenset({S.ACTIVE}), S.COMPLETED),
    Move.RESTOCKED: (frozenset({S.COMPLETED}), S.ACTIVE),
}
START_STATUSES = (S.DRAFT, S.ACTIVE)
del S


class TransitionRefused(Conflict):
    """The action does not apply to the campaign's current status."""

    code = "transition_refused"
    title = "Not possible now"


class CampaignArchived(Conflict):
    """An archived campaign takes no further change."""

    code = "campaign_archived"
    title = "Campaign archived"

    def __init__(self) -> None:
        super().__init__("This campaign is archived; it takes no further changes.")


def allowed_actions(status: CampaignStatus) -> list[Action]:
    """The actions an owner may take from `status`, in the enum's order (for buttons)."""
    return [a for a in Action if (status, a) in TRANSITIONS]


def next_status(status: CampaignStatus, action: Action) -> CampaignStatus:
    """The status `action` leads to from `status`, or `TransitionRefused` saying what is possible."""
    target = TRANSITIONS.get((CampaignStatus(status), action))
    if target is None:
        possible = ", ".join(a.value for a in allowed_actions(CampaignStatus(status)))
        raise TransitionRefused(
            f"A {status} campaign cannot {action.value}"
            + (f"; possible now: {possible}." if possible else "; it takes no further changes."),
            campaign_status=str(status),
            action=action.value,
        )
    return target


def action_to(status: CampaignStatus, requested: CampaignStatus) -> Action:
    """The owner action that takes a campaign from `status` to `requested` (an API client asks
    for a status); `TransitionRefused` when the table has none."""
    for (source, action), target in TRANSITIONS.items():
        if source == status and target == requested:
            return action
    possible = ", ".join(
        f"{TRANSITIONS[(status, a)]} ({a.value})" for a in allowed_actions(CampaignStatus(status))
    )
    raise TransitionRefused(
        f"A {status} campaign cannot become {requested}"
        + (f"; possible now: {possible}." if possible else "; it takes no further changes."),
        campaign_status=str(status),
        requested=str(requested),
    )


def check_action(c: Campaign, action: Action, now: datetime) -> CampaignStatus:
    """The status an owner's `action` leads `c` to now, or the reason it cannot."""
    target = next_status(CampaignStatus(c.status), action)
    if action is Action.REOPEN and c.ends_at and now >= c.ends_at:
        raise TransitionRefused(
            "This campaign's end time has passed; move its end time before reopening it.",
            campaign_status=str(c.status),
            action=action.value,
        )
    return target


def initial_status(value: str) -> CampaignStatus:
    """The status a new campaign may start in: draft or active."""
    try:
        status = CampaignStatus(value)
    except ValueError:
        status = None
    if status not in START_STATUSES:
        raise ValidationFailed(
            f"A new campaign starts as draft or active, not {value!r}.", field="status"
        )
    assert status is not None
    return status


def require_changeable(c: Campaign) -> None:
    """Refuse any change to an archived campaign (its fields, its status, its codes)."""
    if c.status == CampaignStatus.ARCHIVED:
        raise CampaignArchived()


class Openness(enum.Enum):
    """Whether a campaign serves claims right now, and if not, why."""

    OPEN = "open"
    UNPUBLISHED = "unpublished"  # a draft
    PAUSED = "paused"
    NOT_STARTED = "not_started"
    ENDED = "ended"
    SOLD_OUT = "sold_out"  # completed (or archived) because its codes ran out


def openness(c: Campaign, now: datetime) -> Openness:
    """THE open/closed decision: the stored status first, then the window (`starts_at`
    inclusive, `ends_at` exclusive). Stock is not judged here: an active campaign whose
    codes ran out is open until its claim or the scheduler marks it sold out."""
    if c.status == CampaignStatus.PAUSED:
        return Openness.PAUSED
    if c.status in (CampaignStatus.COMPLETED, CampaignStatus.ARCHIVED):
        return Openness.SOLD_OUT if c.completed_reason == Move.SOLD_OUT else Openness.ENDED
    if c.status != CampaignStatus.ACTIVE:
        return Openness.UNPUBLISHED
    if c.starts_at and now < c.starts_at:
        return Openness.NOT_STARTED
    if c.ends_at and now >= c.ends_at:
        return Openness.ENDED
    return Openness.OPEN


def check_open(c: Campaign, now: datetime) -> None:
    """Raise the reason a campaign does not serve claims right now (from `openness`)."""
    state = openness(c, now)
    if state is Openness.PAUSED:
        raise CampaignNotActive("This campaign is paused; try again later.", status=c.status)
    if state is Openness.SOLD_OUT:
        raise SoldOut()
    if state is Openness.ENDED:
        raise CampaignEnded(c.ends_at)
    if state is Openness.UNPUBLISHED:
        raise CampaignNotActive("This campaign is not published yet.", status=c.status)
    if state is Openness.NOT_STARTED:
        assert c.starts_at is not None
        raise CampaignNotStarted(c.starts_at)


def public_state(c: Campaign, available: int, now: datetime) -> str:
    """The state a member sees: open, not_started, paused, ended or sold_out.

    From `openness`, with the stock: an open campaign without codes reads "sold_out", and one
    that sold out and has codes again (not yet reopened) reads "ended" until it is.
    """
    state = openness(c, now)
    if state is Openness.SOLD_OUT:
        return "ended" if available else "sold_out"
    if state is Openness.OPEN:
        return "open" if available > 0 else "sold_out"
    if state is Openness.UNPUBLISHED:
        return "not_started"
    return state.value


# One word per state, for every front: the dashboard, both bots and the API (`state`) say
# "sold out" for a campaign whose codes ran out, the word its members see on the claim page.
STATE_LABELS = {
    "draft": "Draft",
    "not_started": "Not started",
    "active": "Active",
    "paused": "Paused",
    "sold_out": "Sold out",
    "ended": "Ended",
    "archived": "Archived",
}


def owner_state(c: Campaign, available: int, total: int, now: datetime) -> str:
    """The campaign's state as its owner sees it (a key of `STATE_LABELS`), from `openness`.

    The stored status says too little: a campaign completes both when it sells out (and an
    upload reopens it) and when it ends (for good, unless its owner reopens it). An
    archived campaign reads "archived" whatever its last reason.
    """
    if c.status == CampaignStatus.ARCHIVED:
        return "archived"
    state = openness(c, now)
    if state is Openness.UNPUBLISHED:
        return "draft"
    if state is Openness.OPEN:
        return "sold_out" if total and not available else "active"
    return state.value


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A status move written in a transaction, to announce once it commits."""

    campaign: Campaign
    old: CampaignStatus
    new: CampaignStatus
    reason: str


async def write_move(
    conn: Any,
    c: Campaign,
    target: CampaignStatus,
    *,
    reason: str,
    expect: Iterable[CampaignStatus],
    completed_reason: str | None = None,
    **also: Any,
) -> StatusChange | None:
    """Move `c` to `target` in `conn`'s transaction if it is still in one of `expect`.

    One conditional UPDATE; the owner's webhook event (`campaign.status_changed`) is written
    in the same transaction. `also` sets further columns in the same statement. None when
    the row had moved on (another process got there first).
    """
    current = await Campaign.filter(id=c.id).using_db(conn).values_list("status", flat=True)
    old = CampaignStatus(str(current[0])) if current else None
    if old is None or old not in set(expect):
        return None
    changed = (
        await Campaign.filter(id=c.id, status=old)
        .using_db(conn)
        .update(status=target, completed_reason=completed_reason, **also)
    )
    if not changed:
        return None
    await outbox.record_status(conn, c, old, target, reason)
    c.status, c.completed_reason = target, completed_reason
    return StatusChange(c, old, target, reason)


async def announce(change: StatusChange | None, events_bus: EventBus) -> None:
    """After commit: forget this process's card and publish `campaign_status_changed`."""
    if change is None:
        return
    c = change.campaign
    forget_card(c.public_id)
    await events_bus.publish(
        Event(
            events.CAMPAIGN_STATUS_CHANGED,
            c.public_id,
            c.owner_id,  # type: ignore[attr-defined]
            {"from": change.old, "to": change.new, "reason": change.reason, "name": c.name},
        )
    )


async def move(c: Campaign, how: Move, events_bus: EventBus) -> bool:
    """Apply an automatic move (clock: started, ended) in its own transaction; True if this
    call made it."""
    sources, target = AUTOMATIC[how]
    completed = how.value if target == CampaignStatus.COMPLETED else None
    # a draft published at its start is announced by this move, not again by announce_start
    also = {"start_announced_at": c.starts_at} if how is Move.STARTED else {}
    async with in_transaction() as conn:
        change = await write_move(
            conn, c, target, reason=how.value, expect=sources, completed_reason=completed, **also
        )
    await announce(change, events_bus)
    return change is not None


# a start older than this when the job first sees it is not announced any more (a scheduler
# that was down for days, or campaigns that opened before starts were announced)
ANNOUNCE_WITHIN = timedelta(days=1)


async def announce_start(c: Campaign, events_bus: EventBus) -> bool:
    """Announce that a published campaign's `starts_at` has come; True for the one caller
    that did (the conditional UPDATE of `start_announced_at` is the arbiter).

    Claims never wait for this: `openness` opened the campaign at `starts_at` already.
    A changed `starts_at` is announced again when it comes.
    """
    if c.starts_at is None:
        return False
    async with in_transaction() as conn:
        marked = (
            await Campaign.filter(id=c.id, status=CampaignStatus.ACTIVE, starts_at=c.starts_at)
            .filter(Q(start_announced_at__isnull=True) | ~Q(start_announced_at=c.starts_at))
            .using_db(conn)
            .update(start_announced_at=c.starts_at)
        )
        if marked:
            await outbox.record_status(conn, c, c.status, c.status, Move.STARTED.value)
    if marked:
        c.start_announced_at = c.starts_at
        status = CampaignStatus(c.status)
        await announce(StatusChange(c, status, status, Move.STARTED.value), events_bus)
    return bool(marked)


async def mark_sold_out(c: Campaign, events_bus: EventBus) -> bool:
    """Complete an active campaign that has no code left; True for the one caller that did it.

    Announced as `sold_out` (its webhook event `campaign.sold_out` with the status change).
    """
    sources, target = AUTOMATIC[Move.SOLD_OUT]
    async with in_transaction() as conn:
        changed = (
            await Campaign.filter(id=c.id, status__in=list(sources))
            .using_db(conn)
            .update(status=target, completed_reason=Move.SOLD_OUT.value)
        )
        if changed:
            await outbox.record_sold_out(conn, c)
    forget_card(c.public_id)
    if changed:
        await events_bus.publish(
            Event(events.SOLD_OUT, c.public_id, c.owner_id, {"name": c.name})  # type: ignore[attr-defined]
        )
    return bool(changed)


async def reopen_if_sold_out(c: Campaign, now: datetime) -> bool:
    """Codes came back: a campaign that completed by selling out opens again (not past its end).

    Decided by the row in the database, not the copy read before the import (it may have
    sold out meanwhile). The restock's own events (`upload_finished`, `codes_restocked`) tell
    listeners; no status event is published for it.
    """
    if c.ends_at and now >= c.ends_at:
        return False
    sources, target = AUTOMATIC[Move.RESTOCKED]
    reopened = await Campaign.filter(
        id=c.id, status__in=list(sources), completed_reason=Move.SOLD_OUT.value
    ).update(status=target, completed_reason=None)
    forget_card(c.public_id)
    return bool(reopened)


async def alert_low_stock(c: Campaign, left: int, events_bus: EventBus) -> bool:
    """One `low_stock` event per crossing: the flag flips once until stock is refilled."""
    async with in_transaction() as conn:
        flipped = (
            await Campaign.filter(id=c.id, low_stock_alerted=False)
            .using_db(conn)
            .update(low_stock_alerted=True)
        )
        if flipped:
            await outbox.record(
                conn,
                c.owner_id,  # type: ignore[attr-defined]
                outbox.CAMPAIGN_LOW_STOCK,
                c.public_id,
                {
                    "campaign_id": c.public_id,
                    "name": c.name,
                    "available": left,
                    "threshold": c.low_stock_threshold,
                },
            )
    if flipped:
        await events_bus.publish(
            Event(
                events.LOW_STOCK,
                c.public_id,
                c.owner_id,  # type: ignore[attr-defined]
                {"name": c.name, "available": left, "threshold": c.low_stock_threshold},
            )
        )
    return bool(flipped)


async def rearm_low_stock(
    c: Campaign, *, available: int | None = None, using_db: Any = None
) -> bool:
    """Let the next crossing alert again: the stock is back above the threshold (`available`),
    or the threshold itself changed (no `available`). True if the flag was set."""
    if available is not None and available <= c.low_stock_threshold:
        return False
    query = Campaign.filter(id=c.id, low_stock_alerted=True)
    if using_db is not None:
        query = query.using_db(using_db)
    return bool(await query.update(low_stock_alerted=False))
