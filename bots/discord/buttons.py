"""The buttons and selects the Discord bot attaches, as restart-proof `DynamicItem`s.

`campaign_item` makes one `DynamicItem` class per kind of control: its `custom_id` carries
the campaign's public id (`cd:<kind>:<id>`), so the bot re-registers the classes at every
start and a message posted before a restart keeps working. What a press does is passed in
(`bots/discord/claiming.py` builds the claim, platform and waitlist controls), so this module
knows layouts only. The same role as `bots/telegram/buttons.py`.
"""

from __future__ import annotations

import re
import types
from collections.abc import Awaitable, Callable
from typing import Any

import discord

CAMPAIGN_ID = r"(?P<cid>[A-Za-z0-9_-]{1,32})"

Component = discord.ui.Item[discord.ui.View]
# (custom_id, options of the control) -> the control; options are what a press re-creates
# without (a restart rebuilds the item from its custom_id alone)
Layout = Callable[[str, list[str] | None], Component]
OnUse = Callable[[discord.Interaction, str], Awaitable[None]]


class CampaignItem(discord.ui.DynamicItem[Component], template=r"(?!)"):
    """A control of one campaign; `campaign_item` makes the registered subclasses (this base
    matches no custom id)."""

    kind: str = ""
    layout: Layout
    on_use: OnUse

    def __init__(self, campaign_id: str, options: list[str] | None = None) -> None:
        super().__init__(type(self).layout(f"cd:{self.kind}:{campaign_id}", options))
        self.campaign_id = campaign_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> CampaignItem:
        return cls(match["cid"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await type(self).on_use(interaction, self.campaign_id)


def campaign_item(kind: str, layout: Layout, on_use: OnUse) -> type[CampaignItem]:
    """The `CampaignItem` class for one kind of control (custom id `cd:<kind>:<campaign id>`)."""

    def body(namespace: dict[str, Any]) -> None:
        namespace.update(kind=kind, layout=staticmethod(layout), on_use=staticmethod(on_use))

    return types.new_class(
        f"CampaignItem[{kind}]",
        (CampaignItem,),
        {"template": rf"cd:{kind}:{CAMPAIGN_ID}"},
        body,
    )


def button(label: str, style: discord.ButtonStyle, emoji: str) -> Layout:
    """A button layout."""

    def make(custom_id: str, options: list[str] | None) -> Component:
        return discord.ui.Button(label=label, style=style, custom_id=custom_id, emoji=emoji)

    return make


def select(placeholder: str) -> Layout:
    """A one-choice select layout; its options are given when the item is made."""

    def make(custom_id: str, options: list[str] | None) -> Component:
        return discord.ui.Select(
            custom_id=custom_id,
            placeholder=placeholder,
            options=[discord.SelectOption(label=o, value=o) for o in (options or ["any"])[:25]],
            min_values=1,
            max_values=1,
        )

    return make
