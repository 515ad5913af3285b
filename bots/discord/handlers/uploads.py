"""Codes into a campaign: /codes upload (a CSV or text attachment) and /codes generate.

An upload is admitted first (`domain.uploads.admit_upload`: the campaign, the size Discord
declares, the developer's upload rate), and only then downloaded and imported; a refusal is
the interaction's private answer. The same role as `bots/telegram/handlers/uploads.py`.
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bots.discord.mapping import lang_of
from bots.discord.owners import developer_of, owned_choices
from bots.discord.render import upload_message
from bots.discord.replies import Answer, respond
from bots.discord.texts import command, text
from domain import campaigns, generate, uploads
from domain.adapters.bootstrap import Services


class Uploads(commands.Cog):
    """/codes upload and /codes generate for linked developers."""

    codes = app_commands.Group(name="codes", description=command("command.codes"))

    def __init__(self, services: Services) -> None:
        self.services = services

    @codes.command(name="upload", description=command("command.upload"))
    @app_commands.describe(
        campaign=command("command.upload.campaign"), file=command("command.upload.file")
    )
    @app_commands.autocomplete(campaign=owned_choices)
    async def upload(
        self, interaction: discord.Interaction, campaign: str, file: discord.Attachment
    ) -> None:
        services = self.services

        async def action() -> Answer:
            dev = await developer_of(interaction)
            # admitted before the download: the size Discord declares and the upload limit
            admitted = await uploads.admit_upload(
                services, developer_id=dev.id, campaign_id=campaign, declared_size=file.size
            )
            data = await file.read()
            report = await uploads.import_stream(
                services, admitted, chunks=uploads.bytes_chunks(data), filename=file.filename
            )
            return Answer(upload_message(report, lang_of(interaction)))

        await respond(interaction, action)

    @codes.command(name="generate", description=command("command.generate"))
    @app_commands.describe(
        campaign=command("command.upload.campaign"),
        **{
            option: command(f"command.generate.{option}")
            for option in ("count", "pattern", "prefix", "suffix", "exclude_lookalikes")
        },
    )
    @app_commands.autocomplete(campaign=owned_choices)
    async def generate(
        self,
        interaction: discord.Interaction,
        campaign: str,
        count: app_commands.Range[int, 1, generate.MAX_COUNT],
        pattern: str,
        prefix: str = "",
        suffix: str = "",
        exclude_lookalikes: bool = True,
    ) -> None:
        async def action() -> Answer:
            dev = await developer_of(interaction)
            view = await campaigns.get_campaign(owner_id=dev.id, campaign_id=campaign)
            report = await generate.generate_codes(
                self.services,
                owner_id=dev.id,
                campaign_id=campaign,
                request=generate.GenerateRequest(
                    count=count,
                    pattern=pattern,
                    prefix=prefix,
                    suffix=suffix,
                    exclude_lookalikes=exclude_lookalikes,
                ),
            )
            return Answer(
                text(
                    "owner.generated",
                    lang_of(interaction),
                    generated=report.imported,
                    pattern=f"{prefix}{pattern}{suffix}",
                    campaign=view.name,
                )
            )

        await respond(interaction, action)
