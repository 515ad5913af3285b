"""Inline buttons and the callback data they carry (each under Telegram's 64-byte limit).

The same role as `bots/discord/buttons.py`.
"""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bots.telegram.texts import label
from domain.values import Platform

PLATFORM_LABELS = {
    "ios": "iOS",
    "android": "Android",
    "steam": "Steam",
    "web": "Web",
    "universal": "Any platform",
}


class ClaimCb(CallbackData, prefix="claim"):
    """'Get my code' (platform '' lets the domain choose)."""

    campaign: str
    platform: str = ""


class WaitCb(CallbackData, prefix="wait"):
    """'Notify me' on a sold-out campaign."""

    campaign: str


class UploadCb(CallbackData, prefix="upl"):
    """The campaign a document upload is for."""

    campaign: str


class NewPlatformCb(CallbackData, prefix="newp"):
    """The platform chosen while creating a campaign."""

    platform: str


def _rows(*rows: list[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[row for row in rows if row])


def platform_label(platform: str) -> str:
    return PLATFORM_LABELS.get(platform, platform or "any")


def claim_button(campaign_id: str, lang: str | None) -> InlineKeyboardMarkup:
    return _rows(
        [
            InlineKeyboardButton(
                text=label("claim.button", lang), callback_data=ClaimCb(campaign=campaign_id).pack()
            )
        ]
    )


def platform_buttons(campaign_id: str, platforms: list[str]) -> InlineKeyboardMarkup:
    """One button per platform that still has codes."""
    return _rows(
        *[
            [
                InlineKeyboardButton(
                    text=platform_label(p),
                    callback_data=ClaimCb(campaign=campaign_id, platform=p).pack(),
                )
            ]
            for p in platforms
        ]
    )


def link_button(label: str, url: str) -> InlineKeyboardMarkup:
    return _rows([InlineKeyboardButton(text=label, url=url)])


def waitlist_button(campaign_id: str, lang: str | None) -> InlineKeyboardMarkup:
    return _rows(
        [
            InlineKeyboardButton(
                text=label("waitlist.offer", lang),
                callback_data=WaitCb(campaign=campaign_id).pack(),
            )
        ]
    )


def check_again(
    campaign_id: str, platform: str, join: list[str], lang: str | None
) -> InlineKeyboardMarkup:
    """Links to the chats to join (public ones), then 'Check again'."""
    rows = [
        [InlineKeyboardButton(text=chat, url=f"https://t.me/{chat.lstrip('@')}")]
        for chat in join
        if chat.startswith("@")
    ]
    rows.append(
        [
            InlineKeyboardButton(
                text=label("eligibility.check_again", lang),
                callback_data=ClaimCb(campaign=campaign_id, platform=platform).pack(),
            )
        ]
    )
    return _rows(*rows)


def upload_targets(campaigns: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    """One button per (campaign id, name)."""
    return _rows(
        *[
            [InlineKeyboardButton(text=name[:60], callback_data=UploadCb(campaign=cid).pack())]
            for cid, name in campaigns
        ]
    )


def new_platforms() -> InlineKeyboardMarkup:
    order = [Platform.IOS, Platform.ANDROID, Platform.STEAM, Platform.WEB, Platform.UNIVERSAL]
    return _rows(
        [
            InlineKeyboardButton(
                text=platform_label(p.value), callback_data=NewPlatformCb(platform=p.value).pack()
            )
            for p in order[:3]
        ],
        [
            InlineKeyboardButton(
                text=platform_label(p.value), callback_data=NewPlatformCb(platform=p.value).pack()
            )
            for p in order[3:]
        ],
    )
