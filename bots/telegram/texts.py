"""Every sentence the Telegram bot sends, as HTML, in one place per language (English first).

Telegram-only wording lives here; everything both bots say (claims, refusals, waitlist,
owner notices) comes from `bots.texts`. `text()` escapes every value it inserts, so a campaign
named `<b>` cannot break a message; pass `Raw(...)` for markup built on purpose.
"""

from __future__ import annotations

import html
from typing import Any

from bots import texts as shared
from domain.errors import DomainError

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "start.welcome": (
            "Hi {name}! I hand out promo codes for game and app launches, one per person.\n\n"
            "Open a campaign link a developer shared, or send /claim &lt;id&gt;.\n"
            "/mycodes lists the codes you received. /help shows everything I can do."
        ),
        "help": (
            "<b>For everyone</b>\n"
            "/claim &lt;id&gt; - get a code of a campaign (always sent privately)\n"
            "/mycodes - the codes you received\n"
            "/help - this message\n\n"
            "<b>For developers</b>\n"
            "/register - create a developer account (you get an API key once)\n"
            "/link &lt;token&gt; - link this Telegram account to an existing developer account\n"
            "/join &lt;token&gt; - join a campaign you were invited to\n"
            "/new - create a campaign step by step\n"
            "/campaigns - your campaigns and their ids\n"
            "/upload &lt;id&gt; - then send a CSV or TXT file of codes as a document\n"
            "/generate &lt;id&gt; &lt;count&gt; &lt;pattern&gt; - random codes, e.g."
            " PROMO-####-???? (# digit, ? letter, * either)\n"
            "/stats &lt;id&gt; - codes left, claims per channel, last 24 h\n"
            "/pause &lt;id&gt;, /resume &lt;id&gt;, /end &lt;id&gt; - control a campaign\n"
            "/reopen &lt;id&gt; - open an ended campaign again; /archive &lt;id&gt; - put it away\n"
            "/identity &lt;id&gt; anonymous|verified - who may claim\n"
            "/post &lt;id&gt; - in a group: post the campaign card there; "
            "in this chat: /post &lt;id&gt; @channel posts it to a channel where I am admin\n"
            "/cancel - stop what we are doing\n\n"
            "Upload files: a CSV with a <code>code</code> column (optional <code>platform</code>, "
            "<code>metadata</code>, <code>expires_at</code> as 2027-01-31) or a plain text file"
            " with one code per line."
        ),
        "card.title": "<b>{name}</b>",
        "card.description": "{description}",
        "card.platform": "Platform: {platform}",
        "card.platforms": "Platforms: {platforms}",
        "claim.code": "<code>{code}</code>",
        "claim.usage": "Send /claim &lt;campaign id&gt; (the id is at the end of the campaign link).",
        "private.only": "Let's do that in a private chat, so nothing sensitive lands here.",
        "private.open": "Open a private chat",
        "register.done": (
            "Welcome, {name}! You're registered as a developer.\n\n"
            "Your API key, shown this once (keep it safe):\n<code>{key}</code>\n\n"
            "Create your first campaign with /new."
        ),
        "register.already": (
            "You're already registered as {name}. API keys are shown only once; "
            "create another one with the API or the codedrop CLI."
        ),
        "link.usage": (
            "Send /link &lt;token&gt; with a link token from the API "
            "(POST /api/me/link-tokens) or the codedrop CLI."
        ),
        "link.done": "This Telegram account now manages the campaigns of {name}.",
        "join.usage": "Send /join &lt;token&gt; with the invitation token a campaign's owner gave you.",
        "join.done": "You joined <b>{name}</b> as {role}. /campaigns lists it.",
        "campaigns.empty": "You have no campaigns yet. Create one with /new.",
        "campaigns.header": "<b>Your campaigns</b>",
        "campaigns.line": "<b>{name}</b> · {status} · {available} of {total} left\n<code>{id}</code>",
        "campaigns.more": "…and {more} more (the API lists them all).",
        "stats": (
            "<b>{name}</b> ({status})\n"
            "Codes: {available} available, {claimed} claimed, {used} used, {expired} expired,"
            " {total} in all\n"
            "Claims: {claims_total}, {last_24h} in the last 24 h\n"
            "By channel: {by_channel}"
        ),
        "stats.none": "none yet",
        "generate.usage": (
            "Send /generate &lt;campaign id&gt; &lt;count&gt; &lt;pattern&gt;, e.g."
            " <code>/generate abc123 1000 PROMO-####-????</code> (# digit, ? letter, * either;"
            " look-alikes 0 O 1 I L left out)."
        ),
        "generate.done": "Generated {generated} codes ({pattern}) for <b>{name}</b>.",
        "status.changed": "<b>{name}</b> is now {status}.",
        "manage.usage": "Send /{command} &lt;campaign id&gt;. /campaigns lists your ids.",
        "identity.usage": (
            "Send /identity &lt;campaign id&gt; anonymous (anyone may claim) or verified "
            "(only people signed in with Discord or Telegram, and your backend's API key)."
        ),
        "identity.anonymous": "<b>{name}</b>: anyone may claim (anonymous).",
        "identity.verified": (
            "<b>{name}</b>: only signed-in members may claim (verified). The claim page asks "
            "for Sign in with Discord or Telegram; anonymous API calls are refused."
        ),
        "new.name": "Let's create a campaign. What is its name? (/cancel stops.)",
        "new.description": "A short description members will see (or /skip).",
        "new.platform": "Which platform are the codes for?",
        "new.limit": "How many codes may one member get? Send a number from 1 to 100 (usually 1).",
        "new.limit_invalid": "Please send a whole number from 1 to 100.",
        "new.text_only": "Please answer with text.",
        "new.done": (
            "Created <b>{name}</b>.\n"
            "Share this link: {link}\n\n"
            "Now send me the codes as a CSV or TXT document to upload them."
        ),
        "cancelled": "Cancelled.",
        "nothing_to_cancel": "There is nothing to cancel.",
        "upload.send": "Send the codes for <b>{name}</b> as a CSV or TXT document.",
        "upload.pick": "Which campaign are the codes in {filename} for?",
        "upload.no_campaigns": "Create a campaign first with /new, then send the file again.",
        "upload.too_large": (
            "That file is {size} bytes; the limit is {limit} bytes. "
            "Split it, or use the API's large-upload flow."
        ),
        "upload.bad_type": "Send the codes as a .csv or .txt document.",
        "upload.working": "Importing {filename}…",
        "upload.more_problems": "…and {more} more.",
        "upload.expired": "That file is no longer pending; send it again.",
        "post.usage": (
            "In a group: /post &lt;id&gt;. Here: /post &lt;id&gt; @channel "
            "(I must be an admin there)."
        ),
        "post.done": "Posted {name} in {chat}.",
        "post.failed": "I could not post in {chat}: make me an admin there and try again.",
        "platform.any": "any",
        "callback.stale": "This button is no longer valid.",
        "command.start": "Start, or open a campaign link",
        "command.claim": "Get a code: /claim <id>",
        "command.mycodes": "The codes you received",
        "command.help": "What I can do",
        "command.register": "Create a developer account",
        "command.join": "Join a campaign: /join <invitation token>",
        "command.link": "Link an existing developer account",
        "command.new": "Create a campaign",
        "command.campaigns": "Your campaigns",
        "command.upload": "Upload codes: /upload <id>",
        "command.stats": "Campaign statistics: /stats <id>",
        "command.pause": "Pause a campaign: /pause <id>",
        "command.resume": "Resume a campaign: /resume <id>",
        "command.end": "End a campaign: /end <id>",
        "command.reopen": "Reopen an ended campaign: /reopen <id>",
        "command.archive": "Archive an ended campaign: /archive <id>",
        "command.identity": "Who may claim: /identity <id> verified",
        "command.post": "Post a campaign card here",
        "command.generate": "Generate codes: /generate <id> <count> <pattern>",
        "command.cancel": "Stop the current step",
    }
}

# Command descriptions are plain text (setMyCommands), never HTML.
PLAIN_KEYS = {key for key in TEXTS["en"] if key.startswith("command.")}


class Raw(str):
    """Markup built on purpose: inserted into a message without escaping."""

    __slots__ = ()


def _escape(value: Any) -> Any:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, str):
        return html.escape(value, quote=False)
    return value


def _template(key: str, lang: str | None) -> str:
    for table in (TEXTS.get(lang or "", {}), TEXTS["en"]):
        if key in table:
            return table[key]
    # the shared texts are plain text: escape them to embed in HTML
    shared_table = shared.TEXTS.get(lang or shared.DEFAULT_LANG, {})
    plain = shared_table.get(key) or shared.TEXTS[shared.DEFAULT_LANG][key]
    return html.escape(plain, quote=False)


def text(key: str, lang: str | None = None, /, **values: Any) -> str:
    """An HTML message in the user's language, every inserted value escaped."""
    template = _template(key, lang)
    if key in PLAIN_KEYS:
        return template.format(**values)
    return template.format(**{k: _escape(v) for k, v in values.items()})


def label(key: str, lang: str | None = None, /, **values: Any) -> str:
    """Button text (plain, never HTML): a Telegram key or a shared one."""
    for table in (TEXTS.get(lang or "", {}), TEXTS["en"]):
        if key in table:
            return table[key].format(**values)
    return shared.t(key, lang, **values)


def plain(key: str, lang: str | None = None, /, **values: Any) -> str:
    """A plain-text message (notifications sent without a parse mode)."""
    return shared.t(key, lang, **values)


def refusal(error: DomainError, lang: str | None = None) -> str:
    """A domain refusal as an HTML-safe sentence (the wording is shared with Discord)."""
    return html.escape(shared.refusal(error, lang), quote=False)
