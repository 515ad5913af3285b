"""How domain results look in Telegram: the campaign card, a delivered code, reports, lists.

Pure functions from domain values to (HTML text, buttons); handlers send what these return.
The same role as `bots/discord/render.py`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from aiogram.types import InlineKeyboardMarkup
from babel.dates import format_timedelta

from bots.i18n import negotiate
from bots.telegram import buttons
from bots.telegram.texts import Raw, label, text
from bots.texts import state_label
from domain import clock
from domain.analytics import Analytics
from domain.campaigns import CampaignView, PublicCard
from domain.claims import MyCode
from domain.values import ClaimResult, ImportReport

MAX_DESCRIPTION = 1500
MAX_PROBLEMS_SHOWN = 10


def card_text(card: PublicCard, lang: str | None) -> str:
    """Name, description, platform and whether codes remain; never a code."""
    lines = [text("card.title", lang, name=card.name)]
    if card.description:
        lines.append(text("card.description", lang, description=card.description[:MAX_DESCRIPTION]))
    if len(card.platforms) > 1:
        names = ", ".join(buttons.platform_label(p) for p in card.platforms)
        lines.append(text("card.platforms", lang, platforms=names))
    else:
        lines.append(text("card.platform", lang, platform=buttons.platform_label(card.platform)))
    lines.append(state_line(card, lang))
    return "\n\n".join([lines[0], "\n".join(lines[1:])])


def state_line(card: PublicCard, lang: str | None) -> str:
    if card.state == "open":
        return text("card.codes_left", lang, left=card.codes_left)
    if card.state == "not_started" and card.starts_at is not None:
        left = time_left(card.starts_at, clock.now(), lang)
        return text("card.opens_in", lang, left=left, starts_at=card.starts_at)
    if card.state == "paused":
        return text("card.paused", lang)
    if card.state == "sold_out":
        return text("card.sold_out", lang)
    return text("card.ended", lang)


def time_left(until: datetime, now: datetime, lang: str | None) -> str:
    """The time to the start in the member's language ("in 4 minutes", "in 2 hours"), by Babel.

    Telegram has no live timestamp: the card says it when posted and is edited at the start.
    """
    return format_timedelta(
        max(until - now, timedelta(0)),
        granularity="minute",
        add_direction=True,
        locale=negotiate(lang),
    )


def card_markup(
    card: PublicCard, lang: str | None, *, private: bool, link: str
) -> InlineKeyboardMarkup | None:
    """In a private chat, claim (or platform) buttons; elsewhere a link into the private chat,
    from the start on (a card posted before it gets its button when it is edited then)."""
    if not private:
        if card.state == "not_started":
            return None
        return buttons.link_button(label("claim.open_private", lang), link)
    if card.state == "open":
        if len(card.platforms) > 1:
            return buttons.platform_buttons(card.id, card.platforms)
        return buttons.claim_button(card.id, lang)
    if card.state == "sold_out" and card.waitlist_enabled:
        return buttons.waitlist_button(card.id, lang)
    return None


def claim_text(result: ClaimResult, lang: str | None) -> str:
    """The code as a one-tap-copy `<code>` entity, with how to redeem it."""
    head = text(
        "claim.again" if result.repeated else "claim.ok", lang, campaign=result.campaign_name
    )
    parts = [head, text("claim.code", lang, code=result.code)]
    if result.hint:
        parts.append(text("claim.hint", lang, hint=result.hint))
    return "\n\n".join(parts)


def my_codes_text(codes: list[MyCode], lang: str | None) -> str:
    if not codes:
        return text("mycodes.empty", lang)
    lines = [text("mycodes.header", lang)]
    for item in codes:
        lines.append(
            text(
                "mycodes.line",
                lang,
                campaign=item.campaign_name,
                code=Raw(text("claim.code", lang, code=item.code)),
                when=item.claimed_at.date(),
            )
        )
    return "\n".join(lines)


def upload_report_text(report: ImportReport, lang: str | None) -> str:
    """Counts, then the first problems with their line numbers."""
    lines = [
        text(
            "upload.report",
            lang,
            filename=report.filename or label("upload.unnamed", lang),
            rows=report.rows,
            imported=report.imported,
            duplicates=report.duplicates,
            invalid=report.invalid,
        )
    ]
    if report.reopened:
        lines.append(label("upload.reopened", lang))
    shown = report.errors[:MAX_PROBLEMS_SHOWN]
    for problem in shown:
        reason = problem.reason + (f" ({problem.value})" if problem.value else "")
        lines.append(text("upload.problem", lang, line=problem.line, reason=reason))
    hidden = report.duplicates + report.invalid - len(shown)
    if hidden > 0:
        lines.append(text("upload.more_problems", lang, more=hidden))
    return "\n".join(lines)


def campaigns_text(views: list[CampaignView], total: int, lang: str | None) -> str:
    if not views:
        return text("campaigns.empty", lang)
    lines = [text("campaigns.header", lang)]
    for v in views:
        lines.append(
            text(
                "campaigns.line",
                lang,
                name=v.name,
                status=state_label(v.state, lang),
                available=v.stock.available,
                total=v.stock.total,
                id=v.id,
            )
        )
    if total > len(views):
        lines.append(text("campaigns.more", lang, more=total - len(views)))
    return "\n\n".join(lines)


def stats_text(a: Analytics, name: str, status: str, lang: str | None) -> str:
    by_channel = ", ".join(f"{k} {v}" for k, v in sorted(a.by_channel.items())) or label(
        "stats.none", lang
    )
    return text(
        "stats",
        lang,
        name=name,
        status=status,
        available=a.available,
        claimed=a.claimed,
        used=a.used,
        expired=a.expired,
        total=a.total,
        claims_total=a.claims_total,
        last_24h=a.last_24h,
        by_channel=by_channel,
    )
