"""The chat fronts: `telegram/` (aiogram 3) and `discord/` (discord.py 2), and what both share.

Both bots have the same shape, one file name per role:

    app.py        the front the `codedrop` command runs (TelegramFront, DiscordFront)
    bot.py        the platform client (aiogram `Bot` with flood control; the discord.py bot)
    handlers/     one router (Telegram) or cog (Discord) per feature: members, developers,
                  uploads (and Telegram's /new wizard)
    owners.py     who manages: the developer behind an account, the refusal for others
                  (Telegram: the `Gate` middleware of the developer routers)
    claiming.py   the member's claim: facts in, `domain.claims.claim`, the answer out
    mapping.py    platform user -> domain `Claimant`, namespace and channel
    render.py     domain result -> message (pure functions)
    buttons.py    the buttons the bot attaches (Telegram callback data; Discord DynamicItems)
    replies.py    how an update / interaction is answered: errors to replies (once per bot),
                  language, work in flight, time to first answer
    texts.py      every sentence the bot shows, by key from its gettext catalogue
    notices.py    domain events -> owner notices, waitlist messages, posted cards kept current
    sender.py     the `Notifier` the scheduler uses to message a chat

Telegram alone has `states.py` (the /new wizard) and `webhook.py` (the webhook route the API
part serves when `CODEDROP_TELEGRAM_WEBHOOK_URL` is set).

Shared here: `texts.py` (wording both bots use, and the one translation of domain refusals),
`i18n.py` and `locales/` (the message catalogues of every language, locale negotiation, Babel
number and date formats), `inflight.py` (work accepted and not answered yet, for graceful shutdown) and `metrics.py`.
"""
