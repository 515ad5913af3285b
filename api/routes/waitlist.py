"""Developer routes for a campaign's waitlist: the CSV export."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from api.deps import CampaignId, CurrentDeveloper, KnownQueryOnly, developer_limit
from api.schemas import PROBLEMS
from domain import waitlist

router = APIRouter(
    prefix="/api/campaigns/{campaign_id}",
    tags=["campaigns"],
    responses=PROBLEMS,
    dependencies=[KnownQueryOnly],
)
api_limit = developer_limit("rate_limit_api", "API calls")


@router.get(
    "/waitlist.csv",
    response_class=StreamingResponse,
    dependencies=[api_limit],
    responses={200: {"content": {"text/csv": {}}, "description": "the waitlist, as CSV"}},
)
async def export_waitlist(campaign_id: CampaignId, dev: CurrentDeveloper) -> StreamingResponse:
    """Export the campaign's waitlist: addresses and chat ids with their dates (owner only;
    safe to open in a spreadsheet)."""
    stream = await waitlist.export_csv(developer_id=dev.id, campaign_id=campaign_id)
    return StreamingResponse(
        stream,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="waitlist-{campaign_id}.csv"',
            "Cache-Control": "no-store",
        },
    )
