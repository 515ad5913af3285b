"""What the Discord bot shows: code deliveries, drop cards, reports, in Discord's markup.

Domain refusals are worded once in `bots/texts.py` (shared with Telegram); this module only
lays results out for Discord (code blocks, embeds).
"""

from __future__ import annotations

import discord

from bots.texts import t
from domain.analytics import Analytics
from domain.campaigns import STATE_LABELS, CampaignView, PublicCard
from domain.claims import MyCode
from domain.values import ClaimResult, ImportReport

COLOR = 0x5865F2
MAX_PROBLEMS_SHOWN = 10


def code_message(result: ClaimResult) -> str:
    """The private delivery: who it is for, the code in a copyable block, how to redeem it."""
    head = t("claim.again" if result.repeated else "claim.ok", campaign=result.campaign_name)
    lines = [head, f"```\n{result.code}\n```"]
    if result.hint:
        lines.append(t("claim.hint", hint=result.hint))
    return "\n".join(lines)


def card_state(card: PublicCard) -> str:
    if card.state == "sold_out":
        return t("card.sold_out")
    if card.state == "paused":
        return t("card.paused")
    if card.state == "ended":
        return t("card.ended")
    if card.state == "not_started" and card.starts_at:
        return t("card.not_started", starts_at=card.starts_at)
    return t("card.codes_left", left=card.codes_left)


def drop_embed(card: PublicCard) -> discord.Embed:
    """The drop message's embed: name, description, platform and codes left."""
    embed = discord.Embed(title=card.name, description=card.description or None, color=COLOR)
    embed.add_field(name="Codes left", value=str(card.codes_left), inline=True)
    platforms = ", ".join(card.platforms) if card.platforms else card.platform
    embed.add_field(name="Platform", value=platforms, inline=True)
    embed.add_field(name="Status", value=card_state(card), inline=False)
    embed.set_footer(text="Codes are delivered privately: only you see yours.")
    return embed


def my_codes_message(codes: list[MyCode]) -> str:
    if not codes:
        return t("mycodes.empty")
    lines = [t("mycodes.header")]
    for c in codes:
        lines.append(
            f"• **{c.campaign_name}**: `{c.code}` ({c.platform or 'any'}, {c.claimed_at:%Y-%m-%d})"
        )
    return "\n".join(lines)[:1990]


def campaign_line(c: CampaignView) -> str:
    return (
        f"**{c.name}** `{c.id}`: {STATE_LABELS[c.state]}, {c.stock.available} left of"
        f" {c.stock.total}"
        f" ({c.platform})"
    )


def campaigns_message(views: list[CampaignView], total: int) -> str:
    if not views:
        return "You have no campaigns yet. Create one with /campaign create."
    lines = [f"Your campaigns ({total}):"] + [campaign_line(c) for c in views]
    return "\n".join(lines)[:1990]


def stats_message(a: Analytics, name: str) -> str:
    channels = ", ".join(f"{k} {v}" for k, v in sorted(a.by_channel.items())) or "none yet"
    return (
        f"**{name}** `{a.campaign_id}`\n"
        f"Available {a.available} · claimed {a.claimed} · used {a.used} · expired {a.expired}"
        f" · total {a.total}\n"
        f"Claims: {a.claims_total} (last 24 h: {a.last_24h}); by channel: {channels}"
    )


def upload_message(report: ImportReport) -> str:
    """The import report: counts, then the first problems with their line numbers."""
    lines = [
        t(
            "upload.report",
            filename=report.filename or "the file",
            rows=report.rows,
            imported=report.imported,
            duplicates=report.duplicates,
            invalid=report.invalid,
        )
    ]
    if report.reopened:
        lines.append(t("upload.reopened"))
    for problem in report.errors[:MAX_PROBLEMS_SHOWN]:
        lines.append("• " + t("upload.problem", line=problem.line, reason=problem.reason))
    more = len(report.errors) - MAX_PROBLEMS_SHOWN
    if more > 0:
        lines.append(f"… and {more} more.")
    return "\n".join(lines)[:1990]
