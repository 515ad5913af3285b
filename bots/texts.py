"""Texts both bots share, in one place per language (English first).

`t(key, lang, **values)` renders a message; `refusal(error, lang)` turns any `DomainError`
into a friendly sentence. Bot-specific wording lives next to each bot (`bots/telegram/texts.py`,
`bots/discord/texts.py`, both falling back to this table), but every domain refusal goes
through `refusal` so Telegram and Discord say the same thing.
"""

from __future__ import annotations

from domain.campaign_state import Action, TransitionRefused, allowed_actions
from domain.errors import DomainError, NotEligible
from domain.events import Event
from domain.values import CampaignStatus

DEFAULT_LANG = "en"

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "claim.ok": "Here is your code for {campaign}:",
        "claim.again": "You already have a code for {campaign}:",
        "claim.hint": "{hint}",
        "claim.private_only": "Codes are sent privately. Tap the button to get yours.",
        "claim.open_private": "Get my code privately",
        "claim.button": "Get my code",
        "claim.pick_platform": "Which platform is your code for?",
        "card.codes_left": "{left} codes left",
        "card.sold_out": "Sold out: all codes have been handed out.",
        "card.not_started": "Opens {starts_at:%Y-%m-%d %H:%M} UTC.",
        "card.paused": "Paused for now.",
        "card.ended": "This campaign has ended.",
        "waitlist.offer": "Notify me",
        "waitlist.joined": "You're on the list. We'll message you when codes are back.",
        "waitlist.already": "You're already on the list.",
        "waitlist.restocked": "Good news: {campaign} has codes again. Claim yours: {link}",
        "eligibility.check_again": "Check again",
        "mycodes.empty": "You have not received any codes yet.",
        "mycodes.header": "Your codes:",
        "mycodes.line": "{campaign}: {code} ({when:%Y-%m-%d})",
        "owner.low_stock": "Low stock: {campaign} has {available} codes left (threshold {threshold}).",
        "owner.sold_out": "Sold out: every code of {campaign} has been handed out.",
        "owner.expiring_soon": (
            "Expiring soon: {count} unclaimed codes of {campaign} expire within {days} days"
            " (first at {first} UTC)."
        ),
        "owner.generated": "Generated {generated} codes ({pattern}) for {campaign}.",
        "manage.not_linked": (
            "This account is not linked to a developer account. Use /register to create one, "
            "or /link <token> to link an existing one."
        ),
        "upload.report": (
            "Import of {filename}: {rows} rows, {imported} imported, {duplicates} duplicates, "
            "{invalid} invalid."
        ),
        "upload.problem": "line {line}: {reason}",
        "upload.unnamed": "the file",
        "upload.reopened": (
            "The campaign had sold out: these codes reopened it, and members can claim again."
        ),
        "error.generic": "Something went wrong on our side (reference {ref}). Please try again.",
        "error.rate_limited": "Slow down a little: try again in {retry_after} s.",
    }
}

REFUSALS: dict[str, dict[str, str]] = {
    "en": {
        "campaign_not_found": "I can't find that campaign. Check the link or the id.",
        "campaign_not_active": "This campaign is paused right now. Try again later.",
        "campaign_not_started": "{detail}",
        "campaign_ended": "This campaign has ended.",
        "sold_out": "Sorry, sold out: all codes have been handed out.",
        "platform_required": "{detail}",
        "platform_not_served": "{detail}",
        "rate_limited": "Slow down a little: try again in {retry_after} s.",
        "transition_refused": (
            "This campaign is {status}, so it cannot {action} now. What you can do: {possible}."
        ),
        "transition_refused.final": "This campaign is {status}: it takes no further changes.",
    }
}


def t(key: str, lang: str | None = None, **values: object) -> str:
    """A message in the user's language (falling back to English)."""
    table = TEXTS.get(lang or DEFAULT_LANG, TEXTS[DEFAULT_LANG])
    template = table.get(key) or TEXTS[DEFAULT_LANG][key]
    return template.format(**values)


def refusal(error: DomainError, lang: str | None = None) -> str:
    """A friendly sentence for a domain refusal; eligibility says which rule failed."""
    if isinstance(error, NotEligible):
        return error.detail
    if isinstance(error, TransitionRefused):
        return _transition_refused(error, lang)
    table = REFUSALS.get(lang or DEFAULT_LANG, REFUSALS[DEFAULT_LANG])
    template = table.get(error.code) or REFUSALS[DEFAULT_LANG].get(error.code)
    if template is None:
        return error.detail
    return template.format(detail=error.detail, **error.extra)


def _refusal_template(key: str, lang: str | None) -> str:
    table = REFUSALS.get(lang or DEFAULT_LANG, REFUSALS[DEFAULT_LANG])
    return table.get(key) or REFUSALS[DEFAULT_LANG][key]


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
    if not possible:
        return _refusal_template("transition_refused.final", lang).format(status=status.value)
    return _refusal_template("transition_refused", lang).format(
        status=status.value, action=action.value, possible=", ".join(a.value for a in possible)
    )


def expiring_text(event: Event, lang: str | None = None) -> str:
    """The owner's `expiring_soon` notice: how many codes, within how long, the first expiry."""
    first = str(event.data.get("first_expires_at", ""))
    return t(
        "owner.expiring_soon",
        lang,
        campaign=event.data.get("name", event.campaign_id),
        count=event.data.get("count", "?"),
        days=event.data.get("within_days", 3),
        first=first[:16].replace("T", " ") or "?",
    )
