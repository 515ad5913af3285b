"""What a front must find out about a member before claiming: the campaign's eligibility rules.

Fronts gather facts (Telegram chat memberships, Discord roles) only for the rules a campaign
actually has, so a bot asks Telegram `getChatMember` only when a chat is required. Judging the
facts stays in `domain.eligibility`, inside the claim.
"""

from __future__ import annotations

from domain.campaign_reads import recent_public_row
from domain.eligibility import EligibilityRules, parse_rules

# which facts to gather may come from a read this recent (seconds): the claim itself judges
# eligibility on its own terms, re-checked in its transaction
RULES_FRESH_WITHIN = 1.0


async def claim_requirements(*, campaign_id: str) -> EligibilityRules:
    """The eligibility rules of a published campaign (`CampaignNotFound` otherwise), from
    this process's recent read of it (a drop's presses share one read)."""
    row, _ = await recent_public_row(campaign_id, fresh_within=RULES_FRESH_WITHIN)
    return parse_rules(row.eligibility)
