"""What a front must find out about a member before claiming: the campaign's eligibility rules.

Fronts gather facts (Telegram chat memberships, Discord roles) only for the rules a campaign
actually has, so a bot asks Telegram `getChatMember` only when a chat is required. Judging the
facts stays in `domain.eligibility`, inside the claim.
"""

from __future__ import annotations

from domain.campaigns import public_row
from domain.eligibility import EligibilityRules, parse_rules


async def claim_requirements(*, campaign_id: str) -> EligibilityRules:
    """The eligibility rules of a published campaign (`CampaignNotFound` otherwise)."""
    row = await public_row(campaign_id)
    return parse_rules(row.eligibility)
