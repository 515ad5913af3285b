"""Texts both bots share: the `shared` message catalogue (`bots/locales/*/shared.po`).

`t(key, lang, **values)` renders a message in the member's language (any platform code:
`de`, `pt-br`, `es-ES`; English when it is not translated), its numbers and dates formatted
for that language (`bots.i18n`); `refusal(error, lang)` turns any `DomainError` into a
friendly sentence. Bot-specific wording lives next to each bot (`bots/telegram/texts.py`,
`bots/discord/texts.py`, both falling back to this catalogue), but every domain refusal goes
through `refusal` so Telegram and Discord say the same thing.
"""

from __future__ import annotations

import contextlib
from datetime import datetime

from bots.i18n import Catalogue, localized
from domain.campaign_state import Action, TransitionRefused, allowed_actions
from domain.errors import DomainError, NotEligible
from domain.events import Event
from domain.values import CampaignStatus

# the `shared` gettext domain: bots/locales/<locale>/LC_MESSAGES/shared.po
CATALOGUE = Catalogue("shared")
# domain refusals are `refusal.<error code>` in the same catalogue
REFUSAL = "refusal."


def t(key: str, lang: str | None = None, **values: object) -> str:
    """A message in the user's language (falling back to English)."""
    return CATALOGUE.render(key, lang, **values)


def refusal(error: DomainError, lang: str | None = None) -> str:
    """A friendly sentence for a domain refusal; eligibility says which rule failed."""
    if isinstance(error, NotEligible):
        return error.detail
    if isinstance(error, TransitionRefused):
        return _transition_refused(error, lang)
    key = REFUSAL + error.code
    if key not in CATALOGUE:
        return error.detail
    values: dict[str, object] = {"detail": error.detail, **error.extra}
    platforms = error.extra.get("available_platforms")
    if isinstance(platforms, list):
        values["platforms"] = ", ".join(map(str, platforms))
    return CATALOGUE.gettext(key, lang).format(**localized(values, lang))


def _transition_refused(error: TransitionRefused, lang: str | None) -> str:
    """A status move the lifecycle does not allow, naming what the owner can do instead.

    When the table does allow the move (the domain refused it for another reason, such as
    reopening past the campaign's end time) the domain's own sentence says why.
    """
    status = CampaignStatus(str(error.extra.get("campaign_status")))
    action = Action.parse(str(error.extra.get("action")))
    possible = allowed_actions(status)
    if action in possible:
        return error.detail
    said = t(f"campaign_status.{status.value}", lang)
    if not possible:
        return t(REFUSAL + "transition_refused.final", lang, status=said)
    return t(
        REFUSAL + "transition_refused",
        lang,
        status=said,
        action=t(f"action.{action.value}", lang),
        possible=", ".join(t(f"action.{a.value}", lang) for a in possible),
    )


def state_label(state: str, lang: str | None = None) -> str:
    """What the owner calls the campaign's state now (`domain.campaigns.STATE_LABELS` keys)."""
    return t(f"state.{state}", lang)


def expiring_text(event: Event, lang: str | None = None) -> str:
    """The owner's `expiring_soon` notice: how many codes, within how long, the first expiry."""
    first: object = "?"
    with contextlib.suppress(TypeError, ValueError):
        first = datetime.fromisoformat(str(event.data.get("first_expires_at")))
    return t(
        "owner.expiring_soon",
        lang,
        campaign=event.data.get("name", event.campaign_id),
        count=event.data.get("count", "?"),
        days=event.data.get("within_days", 3),
        first=first,
    )
