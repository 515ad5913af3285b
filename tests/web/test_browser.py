"""The dashboard and the claim page in a real headless Chromium (Debian's package, Playwright).

One developer session end to end: sign in, create a campaign, upload a file, open the claim
page in a second browser context, claim, see and copy the code, watch the dashboard's live
counter move within a second without a reload, sign out. Screenshots of both pages land in
artifacts/screenshots/. Outside CI a missing Chromium or Playwright skips with the reason;
with CI=true it fails.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from domain import claims
from domain.adapters.bootstrap import Services
from domain.values import Claimant
from tests import factories
from tests.conftest import IN_CI, ROOT

try:
    from playwright.async_api import expect
except ImportError:  # the browser fixture skips (or fails in CI) with the reason
    expect = None  # type: ignore[assignment]

CHROMIUM = os.environ.get("CODEDROP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
IPHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15"
    " (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason}; CI requires the browser tests", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    """Debian's Chromium driven by Playwright (no `playwright install`: no downloads)."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:  # pragma: no cover - depends on the machine
        _unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        _unavailable(f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)")
    async with async_playwright() as pw:
        instance = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            await instance.close()


def shot(name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / name


async def test_a_developer_runs_a_drop_and_watches_a_claim_arrive_live(
    browser: Any, live_server: str, services: Services
) -> None:
    _, key = await factories.developer("Ada Lovelace")
    dash_ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    member_ctx = await browser.new_context(
        viewport={"width": 390, "height": 844},
        user_agent=IPHONE_UA,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        permissions=["clipboard-read", "clipboard-write"],
    )
    try:
        dash = await dash_ctx.new_page()
        console_errors: list[str] = []
        dash.on("pageerror", lambda exc: console_errors.append(str(exc)))

        # sign in
        await dash.goto(f"{live_server}/dashboard")
        assert "/dashboard/signin" in dash.url
        await dash.get_by_label("API key").fill(key)
        await dash.get_by_role("button", name="Sign in").click()
        await dash.wait_for_url(f"{live_server}/dashboard")
        await dash.get_by_text("No campaigns yet").wait_for()

        # create a campaign
        await dash.get_by_role("link", name="Create your first campaign").click()
        await dash.get_by_label("Name", exact=True).fill("Launch week")
        await dash.get_by_label("Description", exact=False).first.fill(
            "One free month of Pro for early players"
        )
        await dash.get_by_label("Platform", exact=True).select_option("ios")
        await dash.get_by_label("Low-stock alert at").fill("2")
        await dash.get_by_role("button", name="Create campaign").click()
        await dash.get_by_text("Campaign created").wait_for()
        campaign_id = dash.url.split("/dashboard/c/")[1].split("?")[0]

        # upload a file: progress, then the report with its problem line
        await dash.set_input_files(
            "#file",
            files=[
                {
                    "name": "codes.csv",
                    "mimeType": "text/csv",
                    "buffer": (factories.codes_csv(12, prefix="LAUNCH") + "bad code!\n").encode(),
                }
            ],
        )
        await dash.get_by_role("button", name="Upload and import").click()
        await dash.wait_for_url("**/uploads/**")
        assert await dash.locator('[data-report="imported"]').inner_text() == "12"
        assert await dash.locator('[data-report="invalid"]').inner_text() == "1"
        await dash.get_by_text("not allowed").first.wait_for()
        await dash.get_by_role("link", name="Back to the campaign").click()
        await dash.locator('#live-state[data-state="live"]').wait_for()
        claimed = dash.locator('[data-testid="claimed-count"]')
        assert await claimed.inner_text() == "0"
        await dash.evaluate("window.__notReloaded = true")

        # a member opens the claim page in another browser: no code in it before the claim
        member = await member_ctx.new_page()
        await member.goto(f"{live_server}/c/{campaign_id}")
        html = await member.content()
        assert "LAUNCH0" not in html
        assert await member.locator('[data-testid="codes-left"]').inner_text() == "12"
        await member.get_by_role("button", name="Get my code").click()
        code_box = member.locator('[data-testid="code"]')
        await code_box.wait_for()
        claimed_at = time.perf_counter()
        code = await code_box.inner_text()
        assert code.startswith("LAUNCH")
        assert code not in member.url
        # ...and the dashboard's counter moves, live, within a second
        await expect(claimed).to_have_text("1", timeout=1000)
        live_delay = time.perf_counter() - claimed_at
        # the panel's clock is the chart's: 24-hour, UTC
        live_text = dash.locator("#live-text")
        await expect(live_text).to_have_text(re.compile(r"^Live · updated \d\d:\d\d:\d\d UTC$"))
        # the chart's bars stand on the baseline, clear of the labels above and below them
        bars = await dash.eval_on_selector_all(
            "#chart rect",
            "rs => rs.map(r => [r.y.baseVal.value, r.height.baseVal.value])",
        )
        assert len(bars) == 30 and max(h for _, h in bars) > 0
        assert all(y >= 16 and abs(y + h - 100) < 0.01 for y, h in bars)
        # the file picker's button looks like our buttons
        picker = await dash.evaluate(
            "getComputedStyle(document.getElementById('file'), '::file-selector-button')"
            ".borderRadius"
        )
        assert picker == "10px"
        print(f"dashboard counter moved {live_delay * 1000:.0f} ms after the code appeared")
        assert live_delay < 1.0
        assert await dash.evaluate("window.__notReloaded === true")
        assert await dash.locator('#by-channel [data-count="web"]').inner_text() == "1"

        hint = await member.locator('[data-testid="hint"]').inner_text()
        assert f"apps.apple.com/redeem?code={code}" in hint
        await member.get_by_role("button", name="Copy code").click()
        await member.get_by_text("Copied to the clipboard.").wait_for()
        assert await member.evaluate("navigator.clipboard.readText()") == code
        await member.screenshot(path=shot("claim-page.png"), full_page=True)

        # a reload shows the same code again (after one click), never a second one
        await member.reload()
        assert code not in await member.content()
        await member.get_by_role("button", name="Show my code").click()
        await expect(code_box).to_have_text(code)

        # claims from the bots move the same panel
        for i, channel in enumerate(("telegram", "discord", "telegram")):
            await claims.claim(
                campaign_id=campaign_id,
                claimant=Claimant.of(channel, str(1000 + i)),
                channel=channel,
                events_bus=services.events,
            )
        await expect(claimed).to_have_text("4", timeout=2000)
        await dash.locator('#by-channel [data-count="telegram"]').wait_for()
        await dash.screenshot(path=shot("dashboard.png"), full_page=True)

        # the campaign list, then sign out
        await dash.get_by_role("link", name="Campaigns", exact=True).click()
        await dash.get_by_role("link", name="Launch week").wait_for()
        await dash.screenshot(path=shot("campaigns.png"))
        await dash.get_by_role("button", name="Sign out").click()
        await dash.wait_for_url("**/dashboard/signin")
        await dash.goto(f"{live_server}/dashboard")
        assert "/dashboard/signin" in dash.url
        assert console_errors == []
    finally:
        await member_ctx.close()
        await dash_ctx.close()


async def test_the_claim_page_states_render_on_a_phone_without_script_errors(
    browser: Any, live_server: str
) -> None:
    from datetime import timedelta

    from domain import clock

    dev, _ = await factories.developer("States")
    soon = await factories.campaign(
        dev.id, name="Midnight drop", starts_at=clock.now() + timedelta(hours=2, minutes=5)
    )
    sold = await factories.campaign(dev.id, name="Sold out drop")
    ctx = await browser.new_context(viewport={"width": 390, "height": 844}, user_agent=IPHONE_UA)
    try:
        page = await ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"{live_server}/c/{soon.id}")
        countdown = page.locator("#countdown")
        await expect(countdown).to_have_text(re.compile(r"^02:0[45]:[0-5][0-9]$"))
        await page.goto(f"{live_server}/c/{sold.id}")
        await page.get_by_label("Join the waitlist").fill("fan@example.com")
        await page.get_by_role("button", name="Join the waitlist").click()
        await page.locator('[data-testid="waitlist-joined"]').wait_for()
        await page.screenshot(path=shot("claim-waitlist.png"), full_page=True)
        # keyboard only: the skip link is the first stop
        await page.keyboard.press("Tab")
        assert await page.evaluate("document.activeElement.className") == "skip"
        assert errors == []
    finally:
        await ctx.close()


async def test_a_member_who_took_the_last_code_sees_it_again_after_a_reload(
    browser: Any, live_server: str, services: Services
) -> None:
    dev, _ = await factories.developer("Last Code")
    c = await factories.campaign(dev.id, name="One left", platform="ios")
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(1, prefix="LASTONE"))
    ctx = await browser.new_context(viewport={"width": 390, "height": 844}, user_agent=IPHONE_UA)
    try:
        page = await ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"{live_server}/c/{c.id}")
        await page.get_by_role("button", name="Get my code").click()
        code_box = page.locator('[data-testid="code"]')
        await expect(code_box).to_have_text("LASTONE000000")

        # the campaign is sold out now; the member still sees their own code first
        await page.reload()
        await expect(page.locator('[data-testid="state"]')).to_have_text("Sold out")
        assert await page.locator("#waitlist-form").count() == 0
        assert "LASTONE000000" not in await page.content()
        await page.get_by_role("button", name="Show my code").click()
        await expect(code_box).to_have_text("LASTONE000000")
        await page.screenshot(path=shot("claim-last-code.png"), full_page=True)

        # another visitor gets the sold-out page with the waitlist
        other = await (await browser.new_context(user_agent=IPHONE_UA)).new_page()
        await other.goto(f"{live_server}/c/{c.id}")
        await other.locator("#waitlist-form").wait_for()
        assert await other.get_by_label("Join the waitlist").get_attribute("placeholder")
        assert await other.get_by_role("button", name="Show my code").count() == 0
        await other.context.close()
        assert errors == []
    finally:
        await ctx.close()


async def test_the_claim_button_opens_at_the_start_without_a_reload(
    browser: Any, live_server: str, services: Services
) -> None:
    from datetime import timedelta

    from domain import clock

    dev, _ = await factories.developer("On Time")
    starts = clock.now() + timedelta(seconds=4)
    c = await factories.campaign(dev.id, name="On the second", starts_at=starts)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(2, prefix="ONTIME"))
    ctx = await browser.new_context(viewport={"width": 390, "height": 844}, user_agent=IPHONE_UA)
    try:
        page = await ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"{live_server}/c/{c.id}")
        button = page.get_by_role("button", name="Get my code")
        await expect(button).to_be_disabled()
        await expect(page.locator("#countdown")).to_have_text(re.compile(r"^00:00:0[1-4]$"))
        # a marker on the window: a reload would clear it
        await page.evaluate("window.stillTheSamePage = true")
        await expect(button).to_be_enabled(timeout=8000)
        assert clock.now() >= starts - timedelta(seconds=1)
        assert await page.locator("#countdown").count() == 0
        await button.click()
        await expect(page.locator('[data-testid="code"]')).to_have_text(re.compile(r"^ONTIME"))
        assert await page.evaluate("window.stillTheSamePage") is True
        assert errors == []
    finally:
        await ctx.close()


async def test_a_file_over_the_in_request_limit_is_imported_in_the_background_with_progress(
    browser: Any, live_server: str, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    from domain.models import Upload

    # a lowered in-request limit: this 215 KB file must take the background flow; small
    # batches make the import last long enough (a second or two) to watch its progress
    monkeypatch.setattr(services.settings, "upload_max_bytes", 64 * 1024)
    monkeypatch.setattr(services.settings, "upload_batch_size", 25)
    dev, key = await factories.developer("Big Files")
    c = await factories.campaign(dev.id, name="Big drop")
    body = (factories.codes_csv(20_000, prefix="BULK") + "BULK000042\nbad code!\n").encode()
    assert len(body) > 64 * 1024
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = await ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        requests: list[tuple[str, str]] = []
        page.on("request", lambda req: requests.append((req.method, req.url)))
        await page.goto(f"{live_server}/dashboard/c/{c.id}")
        await page.get_by_label("API key").fill(key)
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_url(f"{live_server}/dashboard/c/{c.id}")
        await page.get_by_text("up to 64 KB").first.wait_for()
        # keep every text the progress area shows (the page's own script writes them)
        seen: list[str] = []

        def note(text: str) -> None:
            seen.append(text)

        await page.expose_function("noteProgress", note)
        await page.evaluate(
            """() => {
              const note = () => window.noteProgress(
                document.getElementById("upload-label").textContent + " | " +
                document.getElementById("upload-detail").textContent);
              new MutationObserver(note).observe(document.getElementById("upload-progress"),
                {subtree: true, childList: true, characterData: true});
            }"""
        )
        await page.set_input_files(
            "#file", files=[{"name": "bulk.csv", "mimeType": "text/csv", "buffer": body}]
        )
        await page.get_by_role("button", name="Upload and import").click()
        await page.wait_for_url("**/uploads/**", timeout=30_000)

        assert await page.locator('[data-report="imported"]').inner_text() == "20,000"
        assert await page.locator('[data-report="duplicates"]').inner_text() == "1"
        assert await page.locator('[data-report="invalid"]').inner_text() == "1"
        await page.get_by_text("not allowed").first.wait_for()
        print("progress shown:", *dict.fromkeys(seen), sep="\n  ")
        # the bytes went up with a progress bar, then the import was followed to its end
        size = f"{len(body) / 1024:.1f} KB"
        assert any(re.fullmatch(rf"Uploading… \d+% \| [\d.]+ KB of {size} sent", s) for s in seen)
        assert any(s.startswith("Queued for import…") for s in seen)
        importing = [s for s in seen if s.startswith("Importing in the background")]
        assert importing, "the import's progress was never shown"
        assert re.search(r"[\d,]+ of 20,003 lines read · [\d,]+ imported", importing[-1])
        assert any(s.startswith("Done") for s in seen)

        paths = [(m, u.removeprefix(live_server).split("?")[0]) for m, u in requests]
        base = f"/dashboard/c/{c.id}/large-uploads"
        upload_id = page.url.rsplit("/", 1)[1]
        assert ("POST", base) in paths
        assert ("PUT", f"/api/uploads/{upload_id}/content") in paths
        assert ("POST", f"{base}/{upload_id}/complete") in paths
        assert ("GET", f"{base}/{upload_id}") in paths
        assert ("POST", f"/dashboard/c/{c.id}/upload") not in paths  # not the in-request import
        row = await Upload.get(public_id=upload_id)
        assert row.object_key is not None and row.status == "done"
        await page.screenshot(path=shot("upload-report.png"), full_page=True)
        assert errors == []
    finally:
        await ctx.close()


async def test_archive_asks_first_and_the_page_then_shows_no_status_buttons(
    browser: Any, live_server: str, services: Services
) -> None:
    from domain import campaigns
    from domain.campaign_state import Action

    dev, key = await factories.developer("Archivist")
    c = await factories.campaign(dev.id, name="Old drop")
    await campaigns.act(
        developer_id=dev.id, campaign_id=c.id, action=Action.END, events_bus=services.events
    )
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = await ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"{live_server}/dashboard/c/{c.id}")
        await page.get_by_label("API key").fill(key)
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_url(f"{live_server}/dashboard/c/{c.id}")
        status = page.locator('[data-testid="status"]')
        await expect(status).to_have_text("Ended")

        # the question is asked; saying no sends nothing
        questions: list[str] = []

        async def answer(dialog: Any, accept: bool) -> None:
            questions.append(dialog.message)
            await (dialog.accept() if accept else dialog.dismiss())

        page.once("dialog", lambda d: answer(d, False))
        await page.get_by_role("button", name="Archive").click()
        await page.wait_for_timeout(300)
        assert questions and "cannot be reopened" in questions[0]
        view = await campaigns.get_campaign(owner_id=dev.id, campaign_id=c.id)
        assert view.status == "completed"

        # saying yes archives it; an archived campaign takes no action, so no button is left
        page.once("dialog", lambda d: answer(d, True))
        await page.get_by_role("button", name="Archive").click()
        await expect(status).to_have_text("Archived")
        assert await page.locator('[data-testid^="action-"]').count() == 0
        view = await campaigns.get_campaign(owner_id=dev.id, campaign_id=c.id)
        assert view.status == "archived"

        # reopen from an ended campaign works the same way, without a question
        other = await factories.campaign(dev.id, name="Paused drop")
        await campaigns.act(
            developer_id=dev.id, campaign_id=other.id, action=Action.END, events_bus=services.events
        )
        await page.goto(f"{live_server}/dashboard/c/{other.id}")
        await page.get_by_role("button", name="Reopen").click()
        await expect(status).to_have_text("Active")
        assert errors == []
    finally:
        await ctx.close()
