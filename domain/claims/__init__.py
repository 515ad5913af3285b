"""The claim: one code to one claimant, atomically, whatever the concurrency.

    from domain import claims
    result = await claims.claim(campaign_id=..., claimant=..., channel=..., events_bus=...)

The promise: no code is ever handed to two claimants, no claimant gets more than the
campaign allows, and no acknowledged claim is ever lost. It rests on the database alone:
- a code is taken by a conditional UPDATE (`status='available'` in its WHERE), so two
  transactions can never take the same row: a batch locks its codes first (SKIP LOCKED) and
  checks the UPDATE's row count; a single claim's UPDATE matches the next row instead;
- the claim row's unique `(campaign, claimant, slot)` makes a second claim by the same
  claimant impossible; a duplicate-key error rolls the code back and returns the first claim;
- both happen in one transaction, so an acknowledged claim is committed with its code.
No application lock, Redis or isolation level is needed for correctness.

Inside the package:
- `service`: `claim()`: admission (open, identity, eligibility, platform), then the batch,
  then the answer and its events;
- `batch`: the batch transaction. Claims that arrive together for one campaign in one
  process are committed together (`BATCHING`, group commit); a lone claim is a batch of one;
- `single`: the single-claim path, for what a batch does not settle (a claimant twice in one
  batch, a concurrent claim by the same claimant, terms changed since admission, codes
  locked by other batches at the end of the stock). It stays its own path because it waits
  for locked codes, where a batch passes over them: only it can say "sold out" truly;
- `sql`: every statement, for MariaDB and SQLite; `holdings`: what a claimant holds and
  "my codes"; `stock`: the low-stock and sold-out check after claims (the flags themselves
  are `domain.campaign_state`'s); `coalesce`: the group-commit mechanism.
"""

from domain.claims.service import claim  # noqa: I001 (the public entry point first)
from domain.claims.batch import BATCHING, MAX_CLAIM_BATCH
from domain.claims.holdings import MyCode, my_codes
from domain.claims.service import CAMPAIGN_FRESH_WITHIN, MAX_IDEMPOTENCY_KEY, PATHS, code_platforms
from domain.claims.sql import ATTEMPTS, available_count, is_retryable
from domain.claims.stock import check_stock

__all__ = [
    "ATTEMPTS",
    "BATCHING",
    "CAMPAIGN_FRESH_WITHIN",
    "MAX_CLAIM_BATCH",
    "MAX_IDEMPOTENCY_KEY",
    "PATHS",
    "MyCode",
    "available_count",
    "check_stock",
    "claim",
    "code_platforms",
    "is_retryable",
    "my_codes",
]
