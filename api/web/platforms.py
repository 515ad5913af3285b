"""Which platform a visitor is on, guessed from the User-Agent (preselected, never enforced)."""

from __future__ import annotations

import re

from domain.values import Platform

# Order matters: an Android tablet says "Linux", Steam's in-game browser says "Windows".
SIGNALS: tuple[tuple[re.Pattern[str], Platform], ...] = (
    (re.compile(r"Valve Steam|Steam(Deck|OS)|\bSteam\b", re.I), Platform.STEAM),
    (re.compile(r"iPhone|iPad|iPod|CriOS|FxiOS", re.I), Platform.IOS),
    (re.compile(r"Android", re.I), Platform.ANDROID),
)


def detect_platform(user_agent: str | None) -> Platform:
    """ios, android or steam when the User-Agent says so; web otherwise."""
    ua = (user_agent or "")[:512]
    for pattern, platform in SIGNALS:
        if pattern.search(ua):
            return platform
    return Platform.WEB


def preselect(user_agent: str | None, offered: list[str]) -> str | None:
    """The detected platform if the campaign offers it, else the first offered one."""
    if not offered:
        return None
    detected = detect_platform(user_agent).value
    return detected if detected in offered else offered[0]
