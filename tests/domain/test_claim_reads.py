"""What a claim reads and writes: one campaign read per process under a burst, and a sold-out
campaign refusing its storm on shared reads, without a write (both databases).

Statements are counted as the database driver sends them (tortoise logs each one at DEBUG on
`tortoise.db_client`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest

from domain import claims
from domain.adapters.bootstrap import Services
from domain.campaign_reads import forget_row
from domain.errors import SoldOut
from domain.values import Claimant
from tests import factories
from tests.statements import Statements


@pytest.fixture
def statements() -> Iterator[Statements]:
    logger = logging.getLogger("tortoise.db_client")
    handler, level = Statements(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


async def test_a_burst_on_a_cold_cache_reads_the_campaign_once(
    services: Services, statements: Statements
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(600))
    forget_row(c.id)  # cold: as at a worker's start, or when the recent read expires
    statements.sent.clear()

    results = await asyncio.gather(
        *(
            claims.claim(
                events_bus=factories.BUS,
                campaign_id=c.id,
                claimant=Claimant.of("telegram", n),
                channel="telegram",
            )
            for n in range(500)
        )
    )

    assert len({r.code for r in results}) == 500
    # one read in flight serves them all (a second only if the claims outlive the recent read)
    assert 1 <= statements.campaign_rows() <= 2


async def test_a_sold_out_campaign_refuses_its_storm_on_a_few_shared_reads_without_a_write(
    services: Services, statements: Statements
) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(3))
    holders = [Claimant.of("telegram", n) for n in range(3)]
    codes = {
        h.key: (
            await claims.claim(
                events_bus=factories.BUS, campaign_id=c.id, claimant=h, channel="telegram"
            )
        ).code
        for h in holders
    }
    with pytest.raises(SoldOut):  # the first refusal reads the completed campaign afresh
        await claims.claim(
            events_bus=factories.BUS,
            campaign_id=c.id,
            claimant=Claimant.of("telegram", 999),
            channel="telegram",
        )
    statements.sent.clear()

    newcomers = [Claimant.of("telegram", 1000 + n) for n in range(97)]
    answers = await asyncio.gather(
        *(
            claims.claim(
                events_bus=factories.BUS, campaign_id=c.id, claimant=who, channel="telegram"
            )
            for who in [*newcomers, *holders]
        ),
        return_exceptions=True,
    )

    assert all(isinstance(a, SoldOut) for a in answers[:97])
    for holder, answer in zip(holders, answers[97:], strict=True):
        assert not isinstance(answer, BaseException)
        assert answer.repeated and answer.code == codes[holder.key]
    assert statements.writes() == []
    # refusals that arrive together are confirmed together: one read per batch of them (the
    # first alone, the rest behind it; a campaign read if the recent row expired meanwhile)
    assert len(statements.sent) <= 10
