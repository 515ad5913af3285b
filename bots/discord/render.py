"""How domain results look in Discord: code deliveries, drop cards, lists, reports.

Pure functions from domain values (and the member's language) to Discord markdown and embeds;
every sentence comes from `bots/discord/texts.py`, and domain refusals are worded once in
`bots/texts.py` (shared with Telegram). The same role as `bots/telegram/render.py`.
"""

from __future__ import annotations

import discord

from bots.discord.texts import text
from bots.texts import state_label
from domain.analytics import Analytics
from domain.campaigns import CampaignView, PublicCard
from domain.claims import MyCode
from domain.values import ClaimResult, ImportReport

COLOR = 0x5865F2
MAX_PROBLEMS_SHOWN = 10
MAX_MESSAGE = 1990


def code_message(result: ClaimResult, lang: str | None = None) -> str:
    """The private delivery: who it is for, the code in a copyable block, how to redeem it."""
    head = text(
        "claim.again" if result.repeated else "claim.ok", lang, campaign=result.campaign_name
    )
    lines = [head, text("claim.code", lang, code=result.code)]
    if result.hint:
        lines.append(text("claim.hint", lang, hint=result.hint))
    return "\n".join(lines)


def card_state(card: PublicCard, lang: str | None = None) -> str:
    if card.state == "sold_out":
        return text("card.sold_out", lang)
    if card.state == "paused":
        return text("card.paused", lang)
    if card.state == "ended":
        return text("card.ended", lang)
    if card.state == "not_started" and card.starts_at:
        # Discord's timestamp markup counts down in each member's own time zone
        # a string: the catalogue would group the digits of a number (1,796,187,516)
        return text("card.opens_at", lang, unix=str(int(card.starts_at.timestamp())))
    return text("card.codes_left", lang, left=card.codes_left)


def drop_embed(card: PublicCard, lang: str | None = None) -> discord.Embed:
    """The drop message's embed: name, description, platform and codes left."""
    embed = discord.Embed(title=card.name, description=card.description or None, color=COLOR)
    embed.add_field(
        name=text("card.codes_left_field", lang), value=str(card.codes_left), inline=True
    )
    platforms = ", ".join(card.platforms) if card.platforms else card.platform
    embed.add_field(name=text("card.platform_field", lang), value=platforms, inline=True)
    embed.add_field(
        name=text("card.status_field", lang), value=card_state(card, lang), inline=False
    )
    embed.set_footer(text=text("card.footer", lang))
    return embed


def my_codes_message(codes: list[MyCode], lang: str | None = None) -> str:
    if not codes:
        return text("mycodes.empty", lang)
    lines = [text("mycodes.header", lang)]
    for c in codes:
        lines.append(
            text(
                "mycodes.line",
                lang,
                campaign=c.campaign_name,
                code=c.code,
                platform=c.platform or text("platform.any", lang),
                when=c.claimed_at.date(),
            )
        )
    return "\n".join(lines)[:MAX_MESSAGE]


def campaign_line(c: CampaignView, lang: str | None = None) -> str:
    return text(
        "campaigns.line",
        lang,
        name=c.name,
        id=c.id,
        state=state_label(c.state, lang),
        available=c.stock.available,
        total=c.stock.total,
        platform=c.platform,
    )


def campaigns_message(views: list[CampaignView], total: int, lang: str | None = None) -> str:
    if not views:
        return text("campaigns.empty", lang)
    lines = [text("campaigns.header", lang, total=total)]
    lines += [campaign_line(c, lang) for c in views]
    return "\n".join(lines)[:MAX_MESSAGE]


def stats_message(a: Analytics, name: str, lang: str | None = None) -> str:
    channels = ", ".join(f"{k} {v}" for k, v in sorted(a.by_channel.items()))
    return text(
        "stats",
        lang,
        name=name,
        id=a.campaign_id,
        available=a.available,
        claimed=a.claimed,
        used=a.used,
        expired=a.expired,
        total=a.total,
        claims_total=a.claims_total,
        last_24h=a.last_24h,
        by_channel=channels or text("stats.none", lang),
    )


def upload_message(report: ImportReport, lang: str | None = None) -> str:
    """The import report: counts, then the first problems with their line numbers."""
    lines = [
        text(
            "upload.report",
            lang,
            filename=report.filename or text("upload.unnamed", lang),
            rows=report.rows,
            imported=report.imported,
            duplicates=report.duplicates,
            invalid=report.invalid,
        )
    ]
    if report.reopened:
        lines.append(text("upload.reopened", lang))
    for problem in report.errors[:MAX_PROBLEMS_SHOWN]:
        line = text("upload.problem", lang, line=problem.line, reason=problem.reason)
        lines.append(text("upload.problem_line", lang, problem=line))
    more = len(report.errors) - MAX_PROBLEMS_SHOWN
    if more > 0:
        lines.append(text("upload.more_problems", lang, more=more))
    return "\n".join(lines)[:MAX_MESSAGE]
