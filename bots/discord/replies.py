"""Answering interactions: acknowledge inside Discord's 3 s window, then follow up privately.

Every handler goes through `respond`: it defers (ephemeral, "thinking") before any domain
call, runs the action, and maps a `DomainError` to the shared wording in `bots/texts.py`, in
the member's language. Unexpected errors are logged with a reference the member sees.

`FrontClient` is what handlers need of the bot (its services, the count of interactions in
flight, the work slots): the handlers and buttons type the client with it, so they never
import `bots/discord/bot.py`, which imports them. The same role as `bots/telegram/replies.py`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import discord

from bots.discord.mapping import lang_of
from bots.discord.texts import text
from bots.inflight import InFlight
from bots.metrics import FIRST_ACK, INTERACTIONS
from bots.texts import refusal
from domain.adapters.bootstrap import Services
from domain.errors import DomainError

log = logging.getLogger(__name__)

DEFAULT_WORK_SLOTS = 16


class FrontClient(Protocol):
    """What handlers use of the bot they run in (`bots.discord.bot.CodedropBot` is one)."""

    services: Services
    in_flight: InFlight
    work_slots: asyncio.Semaphore


def client_of(interaction: discord.Interaction) -> FrontClient:
    """The bot an interaction arrived at, as handlers see it."""
    return cast("FrontClient", interaction.client)


@dataclass(slots=True)
class Answer:
    """A private answer: text, an optional embed and optional buttons."""

    content: str
    embed: discord.Embed | None = None
    items: list[discord.ui.Item[Any]] = field(default_factory=list)

    def view(self) -> discord.ui.View | None:
        if not self.items:
            return None
        view = discord.ui.View(timeout=None)
        for item in self.items:
            view.add_item(item)
        return view


class Refusal(Exception):
    """A refusal the bot itself gives (not linked, not the owner): shown as is."""

    def __init__(self, text: str, items: list[discord.ui.Item[Any]] | None = None):
        super().__init__(text)
        self.text = text
        self.items = items or []


Work = Callable[[], Awaitable[Answer]]
OnDomainError = Callable[[DomainError], Awaitable[Answer | None]]


async def respond(
    interaction: discord.Interaction,
    action: Work,
    *,
    on_domain_error: OnDomainError | None = None,
) -> None:
    """Defer privately, run `action`, send its answer (or the refusal) as the follow-up.

    The interaction counts as in flight until its answer is sent: a shutdown waits for it.
    """
    with in_flight(interaction).track():
        if not interaction.response.is_done():
            await interaction.response.defer(ephemeral=True, thinking=True)
            age = (discord.utils.utcnow() - interaction.created_at).total_seconds()
            FIRST_ACK.labels("discord").observe(max(age, 0.0))
        outcome = "answered"
        try:
            # bounded domain work keeps the event loop free to acknowledge new interactions
            async with work_slots(interaction):
                answer = await action()
        except Refusal as exc:
            answer, outcome = Answer(exc.text, items=exc.items), "refused"
        except DomainError as exc:
            special = await on_domain_error(exc) if on_domain_error else None
            answer, outcome = special or Answer(refusal(exc, lang_of(interaction))), "refused"
        except Exception:
            ref = secrets.token_hex(4)
            log.exception("discord interaction failed (ref %s, user %s)", ref, interaction.user.id)
            answer, outcome = Answer(text("error.generic", lang_of(interaction), ref=ref)), "failed"
        await send_answer(interaction, answer)
        INTERACTIONS.labels("discord", outcome).inc()


def in_flight(interaction: discord.Interaction) -> InFlight:
    """The bot's count of interactions being answered (its shutdown waits for them)."""
    tracker = getattr(interaction.client, "in_flight", None)
    if tracker is None:
        tracker = InFlight()
        interaction.client.in_flight = tracker  # type: ignore[attr-defined]
    return tracker


def work_slots(interaction: discord.Interaction) -> asyncio.Semaphore:
    """The bot's limit on interactions doing domain work at once."""
    slots = getattr(interaction.client, "work_slots", None)
    if slots is None:
        slots = asyncio.Semaphore(DEFAULT_WORK_SLOTS)
        interaction.client.work_slots = slots  # type: ignore[attr-defined]
    return slots


async def send_answer(interaction: discord.Interaction, answer: Answer) -> None:
    """The follow-up of a deferred interaction; an expired token is logged, not raised."""
    kwargs: dict[str, object] = {"content": answer.content[:2000], "ephemeral": True}
    if answer.embed is not None:
        kwargs["embed"] = answer.embed
    view = answer.view()
    if view is not None:
        kwargs["view"] = view
    try:
        await interaction.followup.send(**kwargs)  # type: ignore[call-overload]
    except discord.NotFound:
        log.warning("interaction %s expired before its answer was sent", interaction.id)
