"""The campaign page's status buttons through HTTP: exactly the actions the status allows
(domain.campaign_state), each one working through the page, refusals said clearly."""

from __future__ import annotations

import re

import httpx

from domain import campaigns
from domain.campaign_state import Action
from domain.values import CampaignStatus
from tests import factories
from tests.web.conftest import Dev

BUTTON = re.compile(r'data-testid="action-([a-z]+)"[^>]*>([^<]+)<')
JSON = {"Accept": "application/json"}

# the status reached from a new draft by these actions, and the buttons its page must show
ROADS: list[tuple[list[Action], CampaignStatus, list[tuple[str, str]]]] = [
    ([], CampaignStatus.DRAFT, [("publish", "Publish"), ("end", "End")]),
    ([Action.PUBLISH], CampaignStatus.ACTIVE, [("pause", "Pause"), ("end", "End")]),
    (
        [Action.PUBLISH, Action.PAUSE],
        CampaignStatus.PAUSED,
        [("resume", "Resume"), ("end", "End")],
    ),
    ([Action.END], CampaignStatus.COMPLETED, [("reopen", "Reopen"), ("archive", "Archive")]),
    ([Action.END, Action.ARCHIVE], CampaignStatus.ARCHIVED, []),
]


async def press(dev: Dev, campaign_id: str, action: str, **headers: str) -> httpx.Response:
    return await dev.http.post(
        f"/dashboard/c/{campaign_id}/status",
        data={"action": action, "csrf_token": dev.csrf},
        headers=headers,
    )


async def buttons_of(dev: Dev, campaign_id: str) -> list[tuple[str, str]]:
    page = await dev.http.get(f"/dashboard/c/{campaign_id}")
    assert page.status_code == 200
    return BUTTON.findall(page.text)


async def test_each_status_shows_exactly_the_buttons_it_allows(dev: Dev) -> None:
    for actions, status, expected in ROADS:
        c = await factories.campaign(dev.developer.id, status="draft", name=f"To {status}")
        for action in actions:
            assert (await press(dev, c.id, action.value)).status_code == 303
        view = await campaigns.get_campaign(owner_id=dev.developer.id, campaign_id=c.id)
        assert view.status == status
        assert await buttons_of(dev, c.id) == expected, status


async def test_only_archive_asks_for_confirmation(dev: Dev) -> None:
    c = await factories.campaign(dev.developer.id)
    await press(dev, c.id, "end")
    page = (await dev.http.get(f"/dashboard/c/{c.id}")).text
    forms = re.findall(r"<form[^>]*/status\"[^>]*>\s*<input[^>]*>\s*<button[^>]*>", page)
    asking = [f for f in forms if "data-confirm=" in f]
    assert len(forms) == 2 and len(asking) == 1 and 'value="archive"' in asking[0]


async def test_an_ended_campaign_is_reopened_and_archived_through_the_page(dev: Dev) -> None:
    c = await factories.campaign(dev.developer.id)
    await factories.upload_codes(dev.developer.id, c.id, factories.codes_csv(2))
    assert (await press(dev, c.id, "end")).status_code == 303

    reopened = await press(dev, c.id, "reopen")
    assert reopened.status_code == 303 and reopened.headers["location"] == f"/dashboard/c/{c.id}"
    view = await campaigns.get_campaign(owner_id=dev.developer.id, campaign_id=c.id)
    assert view.status == "active"

    await press(dev, c.id, "end")
    assert (await press(dev, c.id, "archive")).status_code == 303
    view = await campaigns.get_campaign(owner_id=dev.developer.id, campaign_id=c.id)
    assert view.status == "archived"
    assert await buttons_of(dev, c.id) == []


async def test_an_action_the_status_does_not_allow_is_a_409_that_says_what_is_possible(
    dev: Dev,
) -> None:
    c = await factories.campaign(dev.developer.id)  # active
    r = await press(dev, c.id, "reopen")
    assert r.status_code == 409 and r.headers["content-type"].startswith("text/html")
    assert "Not possible now" in r.text
    assert "cannot reopen; possible now: pause, end." in r.text
    problem = await press(dev, c.id, "archive", **JSON)
    assert problem.status_code == 409 and problem.json()["code"] == "transition_refused"
    # the pages' scripts get the same problem body as the API (api/web/errors.py)
    assert problem.headers["content-type"] == "application/problem+json"
    body = problem.json()
    assert body["status"] == 409 and body["instance"] == f"/dashboard/c/{c.id}/status"
    assert body["title"] == "Not possible now" and "possible now" in body["detail"]
    assert problem.headers["cache-control"].startswith("no-store")
    view = await campaigns.get_campaign(owner_id=dev.developer.id, campaign_id=c.id)
    assert view.status == "active"


async def test_an_unknown_action_is_a_422_naming_the_actions(dev: Dev) -> None:
    c = await factories.campaign(dev.developer.id)
    for action in ("explode", "", "resume; drop"):
        r = await press(dev, c.id, action)
        assert r.status_code == 422, action
        assert "Unknown action" in r.text and "publish, pause, resume, end, reopen, archive" in (
            r.text
        )
    problem = await press(dev, c.id, "explode", **JSON)
    assert problem.status_code == 422 and problem.json()["code"] == "validation_error"
    view = await campaigns.get_campaign(owner_id=dev.developer.id, campaign_id=c.id)
    assert view.status == "active"


async def test_another_developers_campaign_is_a_404_whatever_the_action(dev: Dev) -> None:
    other, _ = await factories.developer("Mallory")
    theirs = await factories.campaign(other.id)
    r = await press(dev, theirs.id, "end")
    assert r.status_code == 404
    view = await campaigns.get_campaign(owner_id=other.id, campaign_id=theirs.id)
    assert view.status == "active"
