"""Bots in a drop: 1,000 presses of one drop button within one second, on Discord and on
Telegram, each to be acknowledged within 3 s.

    python -m bench.bots_drop [--presses 1000] [--codes 200] [--spread-ms 1000] [--repeat 3]

The real fronts (discord.py's `DiscordFront`, aiogram's `TelegramFront`) run in this process
over a fresh MariaDB database (migrated with `codedrop migrate`), talking to the local
protocol fakes of tests/fakes/, which run on their own event loop in a thread so the presses
go out on schedule whatever the bot's loop is doing:
- Discord: the owner posts the drop with /drop; --presses members press its claim button, one
  INTERACTION_CREATE each over the gateway, evenly spread over --spread-ms. The ack is the
  interaction callback (the private defer), timed by the fake from dispatch to callback; the
  answer is the follow-up with the code or the refusal.
- Telegram: --presses users press the claim button of the campaign card in their private
  chat, queued as callback queries evenly over --spread-ms and taken by the bot's long
  polling (`getUpdates`, 100 at a time). The ack is `answerCallbackQuery`, timed by the fake
  from queueing to the call; the answer is the message with the code or the refusal.
Printed per bot: ack p50/p99/max, answer p50/p99/max, whether every press was acknowledged
within 3 s, codes and refusals, the database check (no code twice), and the CPU seconds the
fakes' thread used (it shares the interpreter with the bot).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from pydantic import SecretStr

from bench.service import ROOT, admin
from domain import campaigns, developers, uploads
from domain.adapters import db
from domain.adapters.bootstrap import Services, bootstrap
from domain.models import Claim
from domain.settings import Settings
from tests.fakes.discord import MANAGE_GUILD, FakeDiscord, FakeMember, snowflake_at
from tests.fakes.telegram import FakeTelegram

T = TypeVar("T")
ACK_LIMIT = 3.0
CODE = re.compile(r"<code>([^<]+)</code>|```\s*([^`\s]+)\s*```")
SOLD_OUT = re.compile(r"sold out", re.IGNORECASE)  # the English refusal both bots send


class FakeLoop:
    """An event loop in a thread, for the protocol fakes."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the fakes' loop; await its result from the caller's loop."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    async def cpu(self) -> float:
        async def thread_cpu() -> float:
            return time.thread_time()

        return await self.run(thread_cpu())

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@dataclass
class Outcome:
    """What one bot's drop gave."""

    bot: str
    presses: int
    acks: list[float]  # seconds, one per acknowledged press
    answers: list[float]  # seconds from the press to the code or refusal
    codes: int
    refusals: int  # answers without a code; `sold_out` of them say the stock is gone
    sold_out: int
    db_claims: int
    db_codes: int
    fake_cpu: float
    span: float  # first press to last answer, seconds

    @property
    def within(self) -> bool:
        return len(self.acks) == self.presses and max(self.acks, default=0) <= ACK_LIMIT


def quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """A new MariaDB database migrated by `codedrop migrate`; its URL. Dropped afterwards."""
    name = f"codedrop_bots_{int(time.time() * 1000) % 10**9}"
    admin(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    url = f"mysql://root:@127.0.0.1:3306/{name}"
    try:
        subprocess.run(
            [sys.executable, "-m", "cli", "migrate"],
            env={**os.environ, "CODEDROP_DATABASE_URL": url, "CODEDROP_ENV_FILE": ""},
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        yield url
    finally:
        admin(f"DROP DATABASE IF EXISTS `{name}`")


async def campaign_with_codes(services: Services, owner_id: int, codes: int, prefix: str) -> str:
    view = await campaigns.create_campaign(owner_id=owner_id, name="Drop", platform="ios")
    body = "code\n" + "".join(f"{prefix}{i:06d}\n" for i in range(codes))
    admitted = await uploads.admit_upload(services, developer_id=owner_id, campaign_id=view.id)
    await uploads.import_stream(
        services, admitted, chunks=uploads.bytes_chunks(body.encode()), filename="codes.csv"
    )
    return view.id


async def db_check(campaign_id: str) -> tuple[int, int]:
    codes = await Claim.filter(campaign__public_id=campaign_id, slot__isnull=False).values_list(
        "code", flat=True
    )
    return len(codes), len(set(codes))


async def wait_until(check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)


def member(n: int, *, manage: bool = False) -> FakeMember:
    now = datetime.now(UTC)
    fm = FakeMember(
        id=snowflake_at(now - timedelta(days=400), n),
        name=f"m{n}",
        roles=[],
        joined_at=now - timedelta(days=100),
    )
    if manage:
        fm.permissions |= MANAGE_GUILD
    return fm


async def spread(
    items: list[T], spread_ms: float, act: Callable[[T], Awaitable[None]]
) -> list[float]:
    """Run `act` on each item at evenly spaced moments over `spread_ms`; when each ran."""
    start = time.monotonic()
    at: list[float] = []
    for i, item in enumerate(items):
        delay = start + i * spread_ms / 1000 / len(items) - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        at.append(time.monotonic())
        await act(item)
    return at


async def discord_drop(
    services: Services, fakes: FakeLoop, fake: FakeDiscord, n: int, args: argparse.Namespace
) -> Outcome:
    from bots.discord.app import DiscordFront

    owner = member(1_000_000 + n, manage=True)
    dev, _ = await developers.register_via_chat(
        provider="discord", external_id=str(owner.id), name="Owner", chat_id=str(owner.id)
    )
    cid = await campaign_with_codes(services, dev.id, args.codes, f"DC{n}X")
    front = DiscordFront(services, card_refresh_interval=2.0)
    task = asyncio.create_task(front.run())
    try:
        await asyncio.wait_for(front.ready.wait(), 30)
        drop = fake.command(owner, "drop", [{"name": "campaign", "type": 3, "value": cid}])
        await fakes.run(fake.interact(drop))
        custom_id = f"cd:claim:{cid}"
        message = await fakes.run(
            fake.wait_message(
                lambda m: any(
                    c.get("custom_id") == custom_id
                    for row in m["components"]
                    for c in row["components"]
                )
            )
        )
        presses = [
            fake.component(member(2_000_000 + n * 100_000 + i), custom_id, message)
            for i in range(args.presses)
        ]
        cpu = await fakes.cpu()
        await fakes.run(spread(presses, args.spread_ms, fake.dispatch))

        def answered() -> bool:
            return all(len(fake.conversations[p["token"]].items) >= 2 for p in presses)

        await wait_until(answered, 60)
        fake_cpu = await fakes.cpu() - cpu
        acks, answers, texts = [], [], []
        last = 0.0
        for p in presses:
            conv = fake.conversations[p["token"]]
            assert conv.dispatched_at is not None
            if conv.times:
                acks.append(conv.times[0] - conv.dispatched_at)
            if len(conv.times) >= 2:
                answers.append(conv.times[1] - conv.dispatched_at)
                last = max(last, conv.times[1])
                texts.append(str(conv.items[1][1].get("content") or ""))
        first = min(fake.conversations[p["token"]].dispatched_at or 0 for p in presses)
    finally:
        await front.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    claims, distinct = await db_check(cid)
    codes = sum(1 for t in texts if CODE.search(t))
    sold_out = sum(1 for t in texts if not CODE.search(t) and SOLD_OUT.search(t))
    return Outcome(
        "Discord",
        args.presses,
        acks,
        answers,
        codes,
        len(texts) - codes,
        sold_out,
        claims,
        distinct,
        fake_cpu,
        last - first,
    )


async def telegram_drop(
    services: Services, fakes: FakeLoop, tg: FakeTelegram, n: int, args: argparse.Namespace
) -> Outcome:
    from bots.telegram.app import TelegramFront

    dev = await developers.create_developer(name="Owner", email=f"tg{n}@example.com")
    cid = await campaign_with_codes(services, dev.id, args.codes, f"TG{n}X")
    base = 10_000_000 * (n + 1)
    users = [tg.user(base + i, f"U{i}") for i in range(args.presses + 1)]
    front = TelegramFront(services)
    task = asyncio.create_task(front.run())
    try:
        await wait_until(lambda: bool(tg.calls_of("getUpdates")) or task.done(), 30)
        scout = users.pop()

        async def start() -> None:
            tg.send_text(scout, f"/start {cid}")

        await fakes.run(start())
        card = (await fakes.run(tg.wait_for(lambda: tg.sent_to(scout.id))))[0]
        markup = card["reply_markup"]
        data = next(
            b["callback_data"]
            for row in markup["inline_keyboard"]
            for b in row
            if str(b.get("callback_data", "")).startswith("claim:")
        )
        cards = []
        for u in users:
            msg = tg.text_message(u, None, card["text"])
            msg["reply_markup"] = markup
            cards.append((u, msg))
        queued: dict[str, float] = {}  # callback query id -> when it was queued
        pressed: dict[int, float] = {}  # user id -> the same

        async def press(item: tuple[Any, dict[str, Any]]) -> None:
            update = tg.press(item[0], item[1], data)
            queued[update["callback_query"]["id"]] = pressed[item[0].id] = time.monotonic()

        cpu = await fakes.cpu()
        await fakes.run(spread(cards, args.spread_ms, press))
        await wait_until(
            lambda: len(tg.answered()) >= len(users) and all(tg.sent_to(u.id) for u in users), 60
        )
        fake_cpu = await fakes.cpu() - cpu
        acks = [
            c.at - queued[c.params["callback_query_id"]]
            for c in tg.answered()
            if c.params.get("callback_query_id") in queued
        ]
        sends: dict[int, float] = {}  # user id -> their first message from the bot
        for c in tg.calls_of("sendMessage"):
            sends.setdefault(int(c.params["chat_id"]), c.at)
        answers = [sends[u] - t for u, t in pressed.items() if u in sends]
        texts = [m["text"] for u in users for m in tg.sent_to(u.id)[:1]]
        first = min(pressed.values())
        last = max((sends[u] for u in pressed if u in sends), default=first)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        await front.close()
    claims, distinct = await db_check(cid)
    codes = sum(1 for t in texts if CODE.search(t))
    sold_out = sum(1 for t in texts if not CODE.search(t) and SOLD_OUT.search(t))
    return Outcome(
        "Telegram",
        len(users),
        acks,
        answers,
        codes,
        len(texts) - codes,
        sold_out,
        claims,
        distinct,
        fake_cpu,
        last - first,
    )


async def run(args: argparse.Namespace, url: str) -> list[Outcome]:
    fakes = FakeLoop()
    discord_fake: FakeDiscord = await fakes.run(_make(FakeDiscord))
    tg: FakeTelegram = await fakes.run(_make(FakeTelegram))
    await fakes.run(discord_fake.start())
    await fakes.run(tg.start())
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        environment="test",
        database_url=url,
        database_pool_size=args.pool,
        log_level="WARNING",
        discord_bot_token=SecretStr(discord_fake.token),
        discord_api_url=discord_fake.api_url,
        discord_guild_id=discord_fake.guild_id,
        telegram_bot_token=SecretStr(tg.token),
        telegram_api_url=tg.url,
    )
    await db.init_db(settings)
    services = bootstrap(settings)
    out: list[Outcome] = []
    try:
        for n in range(args.repeat):
            out.append(await discord_drop(services, fakes, discord_fake, n, args))
            print(describe(out[-1]), file=sys.stderr)
            out.append(await telegram_drop(services, fakes, tg, n, args))
            print(describe(out[-1]), file=sys.stderr)
    finally:
        await services.close()
        await db.close_db()
        await fakes.run(discord_fake.stop())
        await fakes.run(tg.stop())
        fakes.close()
    return out


async def _make(cls: Callable[[], T]) -> T:
    return cls()  # built on the fakes' loop: their asyncio objects belong to it


def describe(o: Outcome) -> str:
    def ms(values: list[float]) -> str:
        return (
            f"p50 {quantile(values, 0.5) * 1000:,.0f} ms, p99 {quantile(values, 0.99) * 1000:,.0f}"
            f" ms, max {max(values, default=float('nan')) * 1000:,.0f} ms"
        )

    return (
        f"{o.bot}: {len(o.acks):,}/{o.presses:,} presses acknowledged, ack {ms(o.acks)};"
        f" answer {ms(o.answers)}; first press to last answer {o.span:.2f} s; {o.codes:,} codes,"
        f" {o.refusals:,} refusals ({o.sold_out:,} sold out, the rest errors); database {o.db_claims:,} claims, {o.db_codes:,} distinct"
        f" codes; fakes' thread {o.fake_cpu:.2f} CPU s;"
        f" every ack within {ACK_LIMIT:g} s: {'yes' if o.within else 'NO'}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--presses", type=int, default=1000)
    parser.add_argument("--codes", type=int, default=200, help="codes in each drop's campaign")
    parser.add_argument("--spread-ms", type=float, default=1000.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pool", type=int, default=4, help="database connections")
    args = parser.parse_args()
    # the fronts log every refused or failed press: into a file, counted below
    log_file = Path(tempfile.mkdtemp(prefix="codedrop-bots-")) / "bots.log"
    logging.basicConfig(filename=log_file, level=logging.WARNING, force=True)
    with fresh_database() as url:
        outcomes = asyncio.run(run(args, url))
    errors = sum(1 for line in log_file.read_text().splitlines() if line.startswith("ERROR"))
    print(
        f"\ncodedrop bots in a drop: {args.presses:,} presses over {args.spread_ms:,.0f} ms per"
        f" bot, {args.codes:,} codes each; MariaDB; real discord.py and aiogram against the local"
        f" fakes; medians of {args.repeat} runs [min-max]; {errors} errors logged ({log_file})"
    )
    print(
        "| bot | ack p50 ms | ack p99 ms | ack max ms | answer p99 ms | all acked within 3 s"
        " | codes / sold out / other answers (each run) |"
    )
    print("|---|---:|---:|---:|---:|---|---|")
    ok = True
    for bot in ("Discord", "Telegram"):
        runs = [o for o in outcomes if o.bot == bot]

        def col(get: Callable[[Outcome], float], runs: list[Outcome] = runs) -> str:
            values = [get(o) * 1000 for o in runs]
            return f"{statistics.median(values):,.0f} [{min(values):,.0f}-{max(values):,.0f}]"

        within = all(o.within for o in runs)
        sound = all(o.db_claims == o.db_codes == min(o.codes, o.db_claims) for o in runs)
        ok = ok and within and sound
        print(
            f"| {bot} | {col(lambda o: quantile(o.acks, 0.5))} |"
            f" {col(lambda o: quantile(o.acks, 0.99))} | {col(lambda o: max(o.acks))} |"
            f" {col(lambda o: quantile(o.answers, 0.99))} | {'yes' if within else 'NO'} | "
            + ", ".join(f"{o.codes}/{o.sold_out}/{o.refusals - o.sold_out}" for o in runs)
            + " |"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
