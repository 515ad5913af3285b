"""Campaigns: what owners manage and what members see.

- `service`: create, read, list, change (`update_campaign`, `act`), delete;
- `fields`: the editable fields and their checks;
- `views`: what an owner sees (`CampaignView`, stock counts, `STATE_LABELS`);
- `cards`: what anyone sees of a published campaign (`public_card`).

The lifecycle itself (statuses, moves, open or closed, stock flags) is
`domain.campaign_state`; this process's recent reads are `domain.campaign_reads`.
"""

from domain.campaign_reads import forget_card, public_row, recent_public_row
from domain.campaign_state import STATE_LABELS, reopen_if_sold_out
from domain.campaigns.cards import PublicCard, public_card
from domain.campaigns.service import (
    act,
    create_campaign,
    delete_campaign,
    find_campaigns,
    get_campaign,
    list_campaigns,
    new_public_id,
    owned,
    update_campaign,
)
from domain.campaigns.views import CampaignView, Stock, stock_of

__all__ = [
    "STATE_LABELS",
    "CampaignView",
    "PublicCard",
    "Stock",
    "act",
    "create_campaign",
    "delete_campaign",
    "find_campaigns",
    "forget_card",
    "get_campaign",
    "list_campaigns",
    "new_public_id",
    "owned",
    "public_card",
    "public_row",
    "recent_public_row",
    "reopen_if_sold_out",
    "stock_of",
    "update_campaign",
]
