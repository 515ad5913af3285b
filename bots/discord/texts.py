"""Every sentence the Discord bot shows, in one table per language (English first), with keys.

Discord-only wording (Discord markdown, embeds, slash-command descriptions) lives here;
everything both bots say (claims, refusals, waitlist, owner notices) comes from `bots.texts`,
which `text()` falls back to. Slash-command and option descriptions are `locale_str`s carrying
their key (`command()`), so a discord.py `Translator` can translate them later; replies take
the member's language from `mapping.lang_of(interaction)`. The same role as
`bots/telegram/texts.py`.
"""

from __future__ import annotations

from typing import Any

from discord.app_commands import locale_str

from bots import texts as shared

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        # replies
        "claim.code": "```\n{code}\n```",
        "card.codes_left_field": "Codes left",
        "card.platform_field": "Platform",
        "card.status_field": "Status",
        "card.footer": "Codes are delivered privately: only you see yours.",
        "mycodes.line": "• **{campaign}**: `{code}` ({platform}, {when:%Y-%m-%d})",
        "platform.any": "any",
        "campaigns.empty": "You have no campaigns yet. Create one with /campaign create.",
        "campaigns.header": "Your campaigns ({total}):",
        "campaigns.line": "**{name}** `{id}`: {state}, {available} left of {total} ({platform})",
        "stats": (
            "**{name}** `{id}`\n"
            "Available {available} · claimed {claimed} · used {used} · expired {expired}"
            " · total {total}\n"
            "Claims: {claims_total} (last 24 h: {last_24h}); by channel: {by_channel}"
        ),
        "stats.none": "none yet",
        "upload.problem_line": "• {problem}",
        "upload.more_problems": "… and {more} more.",
        "created": (
            "Created {campaign}.\nUpload codes with /codes upload, then post it with /drop."
        ),
        "done": "Done: {campaign}",
        "identity.done": "Done: {campaign} · identity {identity}",
        "drop.no_channel": "I can't post in this channel.",
        "drop.forbidden": (
            "I'm not allowed to post in this channel; give me Send Messages and Embed Links here."
        ),
        "drop.done": "Posted **{name}**: {url}",
        "drop.needs_manage_server": "Posting a drop in a server needs the Manage Server permission.",
        "link.done": (
            "Linked to developer **{name}**. You can now manage your campaigns here,"
            " and I'll DM you stock alerts."
        ),
        "join.done": "You joined **{name}** as {role}.",
        "register.already": "You're already registered as **{name}**.",
        "register.done": (
            "Welcome, **{name}**. Your API key (shown once, keep it secret):\n"
            "```\n{key}\n```\nCreate a campaign with /campaign create."
        ),
        # slash commands, their options and choices
        "command.claim": "Get a code privately (only you see it)",
        "command.claim.campaign": "The campaign to claim from",
        "command.mycodes": "The codes you received (only you see it)",
        "command.campaign": "Manage your campaigns",
        "command.codes": "Manage the codes of your campaigns",
        "command.create": "Create a campaign",
        "command.create.name": "Shown to members",
        "command.create.platform": "Where the codes are redeemed",
        "command.create.description": "Shown on the drop message",
        "command.create.required_role": "Members need this role to claim",
        "command.create.min_account_age_days": "Minimum Discord account age",
        "command.create.min_member_days": "Minimum time in this server",
        "command.create.per_member": "Codes one member may get (default 1)",
        "command.create.low_stock_alert": "DM me when this few codes are left (0: never)",
        "command.create.identity": "Who may claim on the web page and the API (default anonymous)",
        "command.list": "Your campaigns and their stock",
        "command.pause": "Stop handing out codes for now",
        "command.resume": "Hand out codes again",
        "command.end": "End a campaign (no more claims)",
        "command.reopen": "Open an ended campaign again",
        "command.archive": "Archive an ended campaign (it takes no further changes)",
        "command.stats": "Stock and claims of a campaign",
        "command.identity": "Who may claim on the web page and the API",
        "command.identity.campaign": "Your campaign",
        "command.identity.mode": (
            "verified: the claim page asks for Sign in with Discord or Telegram; anonymous API"
            " calls are refused"
        ),
        "command.upload": "Import codes from a CSV or text file",
        "command.upload.campaign": "Campaign to add the codes to",
        "command.upload.file": (
            "CSV with a `code` column (optional `platform`, `metadata`) or one code per line"
        ),
        "command.generate": "Generate random codes from a pattern",
        "command.generate.count": "How many codes (1 to 1,000,000)",
        "command.generate.pattern": "# a digit, ? a letter, * either; e.g. PROMO-####-????",
        "command.generate.prefix": "Put before every code",
        "command.generate.suffix": "Put after every code",
        "command.generate.exclude_lookalikes": "Leave out 0 O 1 I L (default: yes)",
        "command.drop": "Post a campaign here with a Claim button",
        "command.drop.campaign": "The campaign to post (yours, or its id)",
        "command.link": "Link this Discord account to your developer account",
        "command.link.token": "The one-time token from the API or CLI (lnk_…)",
        "command.join": "Join a campaign with an invitation token",
        "command.join.token": "The one-time invitation token from the campaign's owner (cdi_…)",
        "command.register": "Create a developer account for yourself",
        "choice.identity.anonymous": "anonymous: anyone may claim",
        "choice.identity.verified": "verified: signed-in Discord/Telegram members only",
    }
}


def text(key: str, lang: str | None = None, /, **values: Any) -> str:
    """A message in the member's language: a Discord key, else a shared one (English fallback)."""
    for table in (TEXTS.get(lang or "", {}), TEXTS["en"]):
        if key in table:
            return table[key].format(**values)
    return shared.t(key, lang, **values)


def command(key: str) -> locale_str:
    """A slash-command text: English now, its key for a translator later."""
    return locale_str(TEXTS["en"][key], key=key)
