"""A campaign's lifecycle in one place: its statuses, the actions that move it, and the table
of allowed moves.

Every front names what an owner asks for with an `Action` (the dashboard's buttons, the
bots' /pause /resume /end commands, the API's status change) and `domain.campaigns.act`
applies it; nothing else decides which status follows which.

    draft ──publish──▶ active ◀──resume── paused
      │                 │  ▲                 ▲
      │                 │  └────pause────────┘ (pause: active → paused)
      └──────end────────┴──────end──────▶ completed ──archive──▶ archived
                                           │
                                           └──reopen──▶ active

`completed` comes from an owner (`end`), the clock (past `ends_at`) or the stock (sold out);
`reopen` takes it back to `active` while its window has not ended. `archived` is the end of
the line: the campaign leaves the default listings and refuses every further change.
"""

from __future__ import annotations

from enum import StrEnum

from domain.errors import Conflict, ValidationFailed
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
del S


class TransitionRefused(Conflict):
    """The action does not apply to the campaign's current status."""

    code = "transition_refused"
    title = "Not possible now"


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
            status=str(status),
            action=action.value,
        )
    return target
