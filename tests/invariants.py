"""The promise checker: reads the final database state and the history of acknowledged claims.

Used by the race tests (and the load-and-fault harness): every acknowledged code belongs to
exactly one claimant and is recorded as claimed by them; nobody holds more than the limit;
available + claimed + used equals what was uploaded; no acknowledged claim is missing.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable

from domain.models import Claim, OutboxEvent, PromoCode
from domain.values import mask_code


async def violations(
    *, campaign_pk: int, acknowledged: Iterable[tuple[str, str]], limit: int, uploaded: int
) -> list[str]:
    """Every broken invariant, in words (an empty list means the promise held)."""
    problems: list[str] = []
    codes = await PromoCode.filter(campaign_id=campaign_pk).values("code", "status", "claimant")
    claims = await Claim.filter(campaign_id=campaign_pk, slot__isnull=False).values(
        "claimant", "code", "slot"
    )
    by_code = {c["code"]: c for c in codes}
    statuses = Counter(c["status"] for c in codes)
    if sum(statuses.values()) != uploaded:
        problems.append(f"{sum(statuses.values())} codes stored, {uploaded} uploaded")
    held_by_claimant: defaultdict[str, set[str]] = defaultdict(set)
    claim_rows_per_code = Counter(c["code"] for c in claims)
    for row in claims:
        held_by_claimant[row["claimant"]].add(row["code"])
        stored = by_code.get(row["code"])
        if (
            stored is None
            or stored["status"] == "available"
            or stored["claimant"] != row["claimant"]
        ):
            problems.append(f"claim of {row['claimant']} not backed by its code row")
    for code, n in claim_rows_per_code.items():
        if n > 1:
            problems.append(f"code {code[:3]}*** has {n} active claims")
    for who, held in held_by_claimant.items():
        if len(held) > limit:
            problems.append(f"{who} holds {len(held)} codes (limit {limit})")
    claimed_codes = {c for c, row in by_code.items() if row["status"] != "available"}
    if claimed_codes != set(claim_rows_per_code):
        problems.append(
            f"{len(claimed_codes)} codes marked taken but {len(claim_rows_per_code)} claimed"
        )
    owners: dict[str, str] = {}
    for who, code in acknowledged:
        if owners.setdefault(code, who) != who:
            problems.append(f"code {code[:3]}*** acknowledged to {owners[code]} and {who}")
        if code not in held_by_claimant.get(who, set()):
            problems.append(f"acknowledged claim of {who} is missing from the database")
    return problems


def retry_violations(
    *, intents: Iterable[tuple[int, str]], answers: Iterable[tuple[int, str]], held: Counter[str]
) -> list[str]:
    """A retried request never takes a second code.

    `intents` are (intent id, claimant) for every logical claim sent (each retried with the
    same body and Idempotency-Key), `answers` the (intent id, code) of every acknowledged
    attempt, `held` the codes each claimant holds in the database. Every attempt of one intent
    must be acknowledged with the same code, and nobody may hold more codes than the claims
    they made, whatever the per-claimant limit.
    """
    problems: list[str] = []
    sent: Counter[str] = Counter()
    for _, who in intents:
        sent[who] += 1
    codes_of: defaultdict[int, set[str]] = defaultdict(set)
    for intent, code in answers:
        codes_of[intent].add(code)
    for intent, codes in codes_of.items():
        if len(codes) > 1:
            problems.append(f"request {intent} was acknowledged with {len(codes)} different codes")
    for who, n in held.items():
        if n > sent.get(who, 0):
            problems.append(f"{who} holds {n} codes after {sent.get(who, 0)} claim requests")
    return problems


async def outbox_violations(
    *, campaign_pk: int, campaign_id: str, acknowledged: Iterable[tuple[str, str]]
) -> tuple[list[str], int]:
    """Each claim has exactly one `claim.created` outbox event and no event lacks its claim.

    For a campaign whose owner had a webhook subscribed to `claim.created` all along: every
    held claim (claimant, slot) has one event, an event without a claim row is one written
    for a rolled-back change, and every acknowledged (claimant, code) is in some event.
    Returns the broken rules in words and the number of events read.
    """
    problems: list[str] = []
    payloads = await OutboxEvent.filter(campaign_id=campaign_id, name="claim.created").values_list(
        "payload", flat=True
    )
    data = [json.loads(p) for p in payloads]
    events = Counter((d["claimant"], d["slot"]) for d in data)
    claims = await Claim.filter(campaign_id=campaign_pk, slot__isnull=False).values_list(
        "claimant", "slot"
    )
    held = {(str(c), int(s)) for c, s in claims}
    for key, n in events.items():
        if n > 1:
            problems.append(f"claim of {key[0]} (slot {key[1]}) has {n} events")
    for who, slot in sorted(set(events) - held):
        problems.append(f"event for a claim of {who} (slot {slot}) that is not in the database")
    for who, slot in sorted(held - set(events)):
        problems.append(f"claim of {who} (slot {slot}) has no claim.created event")
    evented = {(d["claimant"], d["code"]) for d in data}
    for who, code in acknowledged:
        if (who, mask_code(code)) not in evented:
            problems.append(f"acknowledged claim of {who} has no claim.created event")
    return problems, len(data)
