"""Codes into a campaign: uploads by document (`/upload <id>` then a CSV/TXT file, or a file
then a campaign) and `/generate <id> <count> <pattern>`.

Every handler here sits behind `owners.Gate` (a private chat, a linked developer handed in as
`developer`). An upload is admitted first (`domain.uploads.admit_upload`: the campaign, the
declared size, the developer's upload rate), then the file is streamed from the Bot API
(getFile, then the file URL; or the local path of a self-hosted server in --local mode) into
`domain.uploads.import_stream`, never held whole. The same role as `bots/discord/handlers/uploads.py`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Document, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiohttp import ClientError

from bots.telegram import buttons, render
from bots.telegram.buttons import UploadCb
from bots.telegram.owners import Gate
from bots.telegram.states import PENDING_FILE, UPLOAD_CAMPAIGN, UploadFlow
from bots.telegram.texts import text
from domain import campaigns, generate, uploads
from domain.adapters.bootstrap import Services
from domain.developers import DeveloperView
from domain.errors import FileTooLarge, ServiceUnavailable

log = logging.getLogger(__name__)


TEXT_SUFFIXES = (".csv", ".txt", ".tsv")
CHUNK = 64 * 1024
PICK_LIMIT = 10


def _is_text_file(doc: Document) -> bool:
    name = (doc.file_name or "").lower()
    return name.endswith(TEXT_SUFFIXES) or (doc.mime_type or "").startswith("text/")


async def _local_chunks(path: str) -> AsyncIterator[bytes]:
    handle = await asyncio.to_thread(open, path, "rb")
    try:
        while chunk := await asyncio.to_thread(handle.read, CHUNK):
            yield chunk
    finally:
        handle.close()


async def document_chunks(bot: Bot, file_id: str) -> AsyncIterator[bytes]:
    """The bytes of a Telegram file, chunk by chunk."""
    try:
        file = await bot.get_file(file_id)
    except TelegramBadRequest as exc:
        # the official Bot API refuses files over 20 MB ("file is too big")
        raise ServiceUnavailable(f"Telegram would not hand over the file: {exc.message}") from exc
    if not file.file_path:
        raise ServiceUnavailable("Telegram did not give a download path for the file.")
    if os.path.isabs(file.file_path):
        # a self-hosted telegram-bot-api in --local mode answers with a path on its disk
        async for chunk in _local_chunks(file.file_path):
            yield chunk
        return
    url = bot.session.api.file_url(bot.token, file.file_path)
    try:
        async for chunk in bot.session.stream_content(url=url, timeout=120, chunk_size=CHUNK):
            yield chunk
    except (ClientError, TimeoutError) as exc:
        raise ServiceUnavailable("The download of the file failed; send it again.") from exc


async def import_document(
    *,
    bot: Bot,
    services: Services,
    dev: DeveloperView,
    campaign_id: str,
    file: dict[str, Any],
    chat_id: int,
    lang: str | None,
) -> None:
    """Download, import, and answer with the report (imported, duplicates, invalid lines)."""
    size = int(file.get("size") or 0)
    filename = str(file.get("name") or "codes.txt")
    try:
        # admitted before the download: the size Telegram declares and the upload limit
        admitted = await uploads.admit_upload(
            services, developer_id=dev.id, campaign_id=campaign_id, declared_size=size
        )
    except FileTooLarge as exc:
        limit = exc.extra.get("limit", services.settings.upload_max_bytes)
        await bot.send_message(
            chat_id=chat_id, text=text("upload.too_large", lang, size=size, limit=limit)
        )
        return
    # any other refusal (not theirs, over the upload rate) is answered by ErrorReplies
    report = await uploads.import_stream(
        services, admitted, chunks=document_chunks(bot, str(file["id"])), filename=filename
    )
    await bot.send_message(chat_id=chat_id, text=render.upload_report_text(report, lang))


def _file_of(doc: Document) -> dict[str, Any]:
    return {"id": doc.file_id, "name": doc.file_name or "codes.txt", "size": doc.file_size or 0}


async def _offer_campaigns(
    message: Message, dev: DeveloperView, prompt: str, lang: str | None
) -> None:
    found, _ = await campaigns.list_campaigns(owner_id=dev.id, limit=PICK_LIMIT)
    if not found:
        await message.answer(text("upload.no_campaigns", lang))
        return
    await message.answer(
        prompt, reply_markup=buttons.upload_targets([(c.id, c.name) for c in found])
    )


async def upload_command(
    message: Message,
    command: CommandObject,
    developer: DeveloperView,
    state: FSMContext,
    lang: str | None,
) -> None:
    """`/upload <id>`: the next document goes into that campaign; without an id, pick one."""
    dev = developer
    args = (command.args or "").split()
    if not args:
        await state.update_data({PENDING_FILE: None})
        await _offer_campaigns(message, dev, text("upload.pick", lang, filename="your file"), lang)
        return
    view = await campaigns.get_campaign(owner_id=dev.id, campaign_id=args[0])
    await state.set_state(UploadFlow.waiting_file)
    await state.update_data({UPLOAD_CAMPAIGN: view.id, PENDING_FILE: None})
    await message.answer(text("upload.send", lang, name=view.name))


async def document(
    message: Message,
    bot: Bot,
    developer: DeveloperView,
    services: Services,
    state: FSMContext,
    lang: str | None,
) -> None:
    """A CSV/TXT document: import it into the chosen campaign, or ask which one."""
    assert message.document is not None
    dev = developer
    if not _is_text_file(message.document):
        await message.answer(text("upload.bad_type", lang))
        return
    file = _file_of(message.document)
    caption = (message.caption or "").split()
    target: str | None = None
    if len(caption) >= 2 and caption[0].split("@")[0] == "/upload":
        target = caption[1]
    elif await state.get_state() == UploadFlow.waiting_file.state:
        target = (await state.get_data()).get(UPLOAD_CAMPAIGN)
    if target is None:
        await state.update_data({PENDING_FILE: file})
        await _offer_campaigns(
            message, dev, text("upload.pick", lang, filename=str(file["name"])), lang
        )
        return
    await state.clear()
    await import_document(
        bot=bot,
        services=services,
        dev=dev,
        campaign_id=target,
        file=file,
        chat_id=message.chat.id,
        lang=lang,
    )


async def campaign_chosen(
    query: CallbackQuery,
    callback_data: UploadCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    developer: DeveloperView,
    services: Services,
    state: FSMContext,
    lang: str | None,
) -> None:
    """A campaign picked for a pending file (import now) or for the next file (wait for it)."""
    chat_id = query.message.chat.id if query.message else query.from_user.id
    dev = developer
    view = await campaigns.get_campaign(owner_id=dev.id, campaign_id=callback_data.campaign)
    pending = (await state.get_data()).get(PENDING_FILE)
    if not pending:
        await state.set_state(UploadFlow.waiting_file)
        await state.update_data({UPLOAD_CAMPAIGN: view.id})
        await bot.send_message(chat_id=chat_id, text=text("upload.send", lang, name=view.name))
        return
    await state.clear()
    await import_document(
        bot=bot,
        services=services,
        dev=dev,
        campaign_id=view.id,
        file=pending,
        chat_id=chat_id,
        lang=lang,
    )


async def generate_codes(
    message: Message,
    command: CommandObject,
    developer: DeveloperView,
    services: Services,
    lang: str | None,
) -> None:
    """/generate <id> <count> <pattern>: random codes, look-alikes left out."""
    args = (command.args or "").split()
    if len(args) != 3 or not args[1].isdigit():
        await message.answer(text("generate.usage", lang))
        return
    view = await campaigns.get_campaign(owner_id=developer.id, campaign_id=args[0])
    report = await generate.generate_codes(
        services,
        owner_id=developer.id,
        campaign_id=args[0],
        request=generate.GenerateRequest(
            count=int(args[1]), pattern=args[2], exclude_lookalikes=True
        ),
    )
    await message.answer(
        text("generate.done", lang, generated=report.imported, pattern=args[2], name=view.name)
    )


def setup() -> Router:
    """The uploads router (a new one per dispatcher), behind `Gate`."""
    router = Router(name="uploads")
    router.message.middleware(Gate())
    router.callback_query.middleware(Gate())
    router.message.register(generate_codes, Command("generate"))
    router.message.register(upload_command, Command("upload"), F.text)
    router.message.register(document, F.document, F.chat.type == "private")
    router.callback_query.register(
        campaign_chosen, UploadCb.filter(), flags={"callback_answer": {"pre": True}}
    )
    return router
