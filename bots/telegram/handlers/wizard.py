"""/new: a guided conversation (aiogram FSM) that creates a campaign; /cancel and /skip.

The answers are only collected here; `domain.campaigns.create_campaign` validates them, and a
refused field sends the developer back to that question. /new and every step after it sit
behind `owners.Gate` (a private chat, a linked developer handed in as `developer`); /cancel
is for anyone.
"""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer

from bots.telegram import buttons, mapping
from bots.telegram.buttons import NewPlatformCb
from bots.telegram.owners import Gate
from bots.telegram.states import UPLOAD_CAMPAIGN, NewCampaign, UploadFlow
from bots.telegram.texts import refusal, text
from domain import campaigns
from domain.developers import DeveloperView
from domain.errors import ValidationFailed
from domain.values import parse_platform

NOT_A_COMMAND = F.text & ~F.text.startswith("/")
QUESTIONS = {
    "name": (NewCampaign.name, "new.name"),
    "description": (NewCampaign.description, "new.description"),
    "platform": (NewCampaign.platform, "new.platform"),
    "per_claimant_limit": (NewCampaign.limit, "new.limit"),
}


async def cancel(message: Message, state: FSMContext, lang: str | None) -> None:
    if await state.get_state() is None:
        await message.answer(text("nothing_to_cancel", lang))
        return
    await state.clear()
    await message.answer(text("cancelled", lang))


async def new(message: Message, state: FSMContext, lang: str | None) -> None:
    await state.clear()
    await state.set_state(NewCampaign.name)
    await message.answer(text("new.name", lang))


async def got_name(message: Message, state: FSMContext, lang: str | None) -> None:
    await state.update_data(name=message.text)
    await state.set_state(NewCampaign.description)
    await message.answer(text("new.description", lang))


async def got_description(message: Message, state: FSMContext, lang: str | None) -> None:
    skipped = (message.text or "").startswith("/skip")
    await state.update_data(description="" if skipped else message.text)
    await state.set_state(NewCampaign.platform)
    await message.answer(text("new.platform", lang), reply_markup=buttons.new_platforms())


async def platform_pressed(
    query: CallbackQuery,
    callback_data: NewPlatformCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    state: FSMContext,
    lang: str | None,
) -> None:
    await state.update_data(platform=callback_data.platform)
    await state.set_state(NewCampaign.limit)
    await bot.send_message(chat_id=query.from_user.id, text=text("new.limit", lang))


async def platform_typed(message: Message, state: FSMContext, lang: str | None) -> None:
    platform = parse_platform(message.text)  # an unknown name is refused with the choices
    await state.update_data(platform=platform.value if platform else None)
    await state.set_state(NewCampaign.limit)
    await message.answer(text("new.limit", lang))


async def got_limit(
    message: Message, bot: Bot, developer: DeveloperView, state: FSMContext, lang: str | None
) -> None:
    try:
        limit = int((message.text or "").strip())
    except ValueError:
        await message.answer(text("new.limit_invalid", lang))
        return
    data = await state.get_data()
    try:
        view = await campaigns.create_campaign(
            owner_id=developer.id,
            name=str(data.get("name") or ""),
            description=str(data.get("description") or ""),
            platform=data.get("platform"),
            per_claimant_limit=limit,
        )
    except ValidationFailed as exc:
        # back to the question whose answer the domain refused
        question = QUESTIONS.get(exc.field or "", QUESTIONS["name"])
        await state.set_state(question[0])
        markup = buttons.new_platforms() if question[0] == NewCampaign.platform else None
        await message.answer(
            refusal(exc, lang) + "\n\n" + text(question[1], lang), reply_markup=markup
        )
        return
    await state.clear()
    await state.set_state(UploadFlow.waiting_file)
    await state.update_data({UPLOAD_CAMPAIGN: view.id})
    me = await bot.me()
    await message.answer(
        text("new.done", lang, name=view.name, link=mapping.deep_link(me.username, view.id))
    )


async def not_text(message: Message, lang: str | None) -> None:
    await message.answer(text("new.text_only", lang))


def setup() -> Router:
    """The wizard router (a new one per dispatcher): /cancel, then the gated conversation."""
    router = Router(name="wizard")
    router.message.register(cancel, Command("cancel"))
    steps = Router(name="new-campaign")
    steps.message.middleware(Gate())
    steps.callback_query.middleware(Gate())
    router.include_router(steps)
    steps.message.register(new, Command("new"))
    steps.message.register(got_name, NewCampaign.name, NOT_A_COMMAND)
    steps.message.register(got_description, NewCampaign.description, Command("skip"))
    steps.message.register(got_description, NewCampaign.description, NOT_A_COMMAND)
    steps.callback_query.register(platform_pressed, NewCampaign.platform, NewPlatformCb.filter())
    steps.message.register(platform_typed, NewCampaign.platform, NOT_A_COMMAND)
    steps.message.register(got_limit, NewCampaign.limit, NOT_A_COMMAND)
    steps.message.register(not_text, StateFilter(NewCampaign), ~F.text)
    return router
