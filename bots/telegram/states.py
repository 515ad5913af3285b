"""FSM states of the bot's conversations (kept in Redis when `REDIS_URL` is set)."""

from __future__ import annotations

from aiogram.fsm.state import State, StatesGroup

UPLOAD_CAMPAIGN = "upload_campaign"
PENDING_FILE = "pending_file"


class NewCampaign(StatesGroup):
    """/new: name, description, platform, per-member limit."""

    name = State()
    description = State()
    platform = State()
    limit = State()


class UploadFlow(StatesGroup):
    """A campaign is chosen; the next document's codes go into it."""

    waiting_file = State()
