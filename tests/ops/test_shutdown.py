"""SIGTERM stops a real `codedrop` process gracefully: work in flight is answered, exit 0.

Each test starts the real command on the test session's database (SQLite and MariaDB), loads
it, sends SIGTERM in the middle of the load and then checks what the clients and the database
saw. uvicorn alone re-raises the signal after its own shutdown (exit -15, and the code that
closes the bots, the scheduler and the database never runs); the runtime in cli/runtime.py
owns the signals instead.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import httpx

from domain.adapters.bootstrap import Services
from domain.models import Claim
from tests import factories
from tests.fakes.discord import DEFERRED_MESSAGE, FakeDiscord, FakeMember, snowflake_at
from tests.fakes.telegram import FakeTelegram
from tests.ops.processes import environment, free_port, start, wait_http

SHUTDOWN_TIMEOUT = 10.0
CLAIMERS = 32


async def test_sigterm_mid_load_answers_every_accepted_claim_and_exits_0(
    services: Services, tmp_path: Path
) -> None:
    dev, _ = await factories.developer("Ops")
    c = await factories.campaign(dev.id, name="Shutdown")
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(5_000, prefix="SHUT"))
    port, log = free_port(), tmp_path / "api.log"
    env = environment(
        services.settings, shutdown_timeout=str(SHUTDOWN_TIMEOUT), log_level="WARNING"
    )
    proc = await start(env, "api", "--port", str(port), log=log)
    base = f"http://127.0.0.1:{port}"
    await wait_http(base + "/healthz", proc, log)

    answers: dict[str, str] = {}  # claimant -> the code answered
    failures: list[str] = []  # how requests that got no answer ended
    after_signal: list[float] = []  # when answers arrived after SIGTERM
    signalled: list[float] = []

    async def claimer(worker: int, http: httpx.AsyncClient) -> None:
        for n in range(100_000):
            who = f"w{worker}-{n}"
            try:
                r = await http.post(
                    f"{base}/api/distribute/{c.id}", json={"user_identifier": who}, timeout=30
                )
            except httpx.ConnectError:
                return  # the listening socket is closed: the request was never accepted
            except httpx.HTTPError as exc:
                failures.append(type(exc).__name__)
                continue
            assert r.status_code == 201, (r.status_code, r.text)
            answers[who] = r.json()["code"]
            if signalled:
                after_signal.append(time.monotonic() - signalled[0])

    # a new connection per request: no keep-alive race muddles what "accepted" means
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(limits=limits) as http:
        load = [asyncio.create_task(claimer(i, http)) for i in range(CLAIMERS)]
        while len(answers) < 200:  # the load flows
            await asyncio.sleep(0.02)
            assert proc.returncode is None, log.read_text()
        signalled.append(time.monotonic())
        proc.send_signal(signal.SIGTERM)
        status = await asyncio.wait_for(proc.wait(), SHUTDOWN_TIMEOUT + 5)
        took = time.monotonic() - signalled[0]
        await asyncio.wait_for(asyncio.gather(*load), 30)

    output = log.read_text()
    assert status == 0, output
    assert took < SHUTDOWN_TIMEOUT, output
    assert after_signal, "no claim was in flight when SIGTERM arrived"
    # every claim the server committed was answered, and every answer is in the database
    stored = {row.code for row in await Claim.filter(campaign__public_id=c.id).only("code")}
    assert stored == set(answers.values()), (len(stored), len(answers), failures[:5])
    assert len(set(answers.values())) == len(answers)
    assert "Traceback" not in output, output


async def test_sigterm_closes_the_discord_gateway_cleanly_after_answering_interactions_in_flight(
    services: Services, tmp_path: Path
) -> None:
    fake = FakeDiscord()
    await fake.start()
    fake.followup_delay = 0.5  # Discord answers slowly: the claims stay in flight
    try:
        dev, _ = await factories.developer("Ops")
        c = await factories.campaign(dev.id, name="Drop")
        await factories.upload_codes(dev.id, c.id, factories.codes_csv(50, prefix="DISC"))
        log = tmp_path / "discord.log"
        env = environment(
            services.settings,
            shutdown_timeout=str(SHUTDOWN_TIMEOUT),
            discord_bot_token=fake.token,
            discord_api_url=fake.api_url,
            discord_guild_id=str(fake.guild_id),
            metrics_port=str(ops_port := free_port()),
        )
        proc = await start(env, "bot", "discord", log=log)
        deadline = time.monotonic() + 60
        while "discord: connected as" not in log.read_text():  # on_ready: guilds received
            assert time.monotonic() < deadline and proc.returncode is None, log.read_text()
            await asyncio.sleep(0.1)
        button = {"type": 2, "style": 1, "label": "Claim", "custom_id": f"cd:claim:{c.id}"}
        drop = fake._message(
            fake.channel_id,
            {"content": "drop", "components": [{"type": 1, "components": [button]}]},
        )
        now = time.time()
        members = [
            FakeMember(id=snowflake_at(_days_ago(now, 400), i), name=f"m{i}") for i in range(8)
        ]
        presses = [fake.component(m, f"cd:claim:{c.id}", drop) for m in members]
        for press in presses:
            await fake.dispatch(press)

        def acknowledged(press: dict[str, object]) -> bool:
            items = fake.conversations[str(press["token"])].items
            return bool(items) and items[0][1]["type"] == DEFERRED_MESSAGE

        deadline = time.monotonic() + 15
        while not all(acknowledged(p) for p in presses):
            assert time.monotonic() < deadline, log.read_text()
            await asyncio.sleep(0.01)
        in_flight = sum(len(fake.conversations[str(p["token"])].items) == 1 for p in presses)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ops_port}") as ops:
            health = await ops.get("/healthz")
            metrics = (await ops.get("/metrics")).text
        assert health.status_code == 200 and health.json()["parts"] == {"discord": "ok"}
        assert 'codedrop_bot_first_ack_seconds_count{bot="discord"} 8.0' in metrics
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        status = await asyncio.wait_for(proc.wait(), SHUTDOWN_TIMEOUT + 5)
        took = time.monotonic() - signalled
    finally:
        await fake.stop()

    output = log.read_text()
    assert status == 0, output
    assert took < SHUTDOWN_TIMEOUT, output
    assert in_flight > 0, "every interaction was answered before SIGTERM: nothing was in flight"
    for press in presses:
        reply = await fake.reply_to(press, timeout=1)
        assert "```" in reply.content, reply.content  # the member got their code
    assert fake.close_codes == [1000], fake.close_codes  # a close frame, not a dropped socket
    assert "Traceback" not in output, output


async def test_sigterm_lets_the_telegram_bot_answer_the_updates_it_took_then_exit_0(
    services: Services, tmp_path: Path
) -> None:
    tg = FakeTelegram()
    await tg.start()
    tg.send_delay = 0.5  # Telegram answers slowly: the replies stay in flight
    try:
        log = tmp_path / "telegram.log"
        env = environment(
            services.settings,
            shutdown_timeout=str(SHUTDOWN_TIMEOUT),
            telegram_bot_token=tg.token,
            telegram_api_url=tg.url,
        )
        proc = await start(env, "bot", "telegram", log=log)
        try:
            await tg.wait_for(lambda: tg.calls_of("getUpdates"), timeout=60)
        except TimeoutError:
            raise AssertionError(log.read_text()) from None
        members = [tg.user(4000 + i, f"M{i}") for i in range(6)]
        for m in members:
            tg.send_text(m, "/mycodes")
        # every update is being answered: its sendMessage has reached the (slow) server
        await tg.wait_for(lambda: len(tg.calls_of("sendMessage")) == len(members), timeout=30)
        answered_before = sum(bool(tg.sent_to(m.id)) for m in members)
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        status = await asyncio.wait_for(proc.wait(), SHUTDOWN_TIMEOUT + 5)
        took = time.monotonic() - signalled
    finally:
        await tg.stop()

    output = log.read_text()
    assert status == 0, output
    assert took < SHUTDOWN_TIMEOUT, output
    assert answered_before < len(members), "nothing was in flight at SIGTERM"
    for m in members:
        replies = tg.sent_to(m.id)
        assert len(replies) == 1, [r["text"] for r in replies]
        [reply] = replies
        assert "not received any codes" in reply["text"], reply
    assert "Traceback" not in output, output


def _days_ago(now: float, days: float) -> object:
    from datetime import UTC, datetime, timedelta

    return datetime.fromtimestamp(now, UTC) - timedelta(days=days)
