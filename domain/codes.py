"""An owner's view of codes: list (masked), mark used, release to the pool, export.

Full codes leave this module only through `export_csv` (an explicit owner action), and the
export is safe to open in a spreadsheet: cells that a spreadsheet would run as a formula are
prefixed with an apostrophe (OWASP's CSV-injection advice).
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from tortoise.transactions import in_transaction

from domain import audit, clock, outbox
from domain.access import Role, require
from domain.adapters.db import read_connection
from domain.audit import Action
from domain.campaigns import forget_card, reopen_if_sold_out
from domain.claimants import pseudonym
from domain.errors import CodeNotFound, ValidationFailed
from domain.models import Campaign, Claim, PromoCode
from domain.values import CodeStatus, Platform, is_row_id, mask_code

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MAX_BULK = 1000


@dataclass(frozen=True, slots=True)
class CodeView:
    id: int
    code: str  # masked
    platform: str
    status: str
    claimant: str | None
    claimed_at: datetime | None
    used_at: datetime | None
    expires_at: datetime | None = None


def _view(row: PromoCode, c: Campaign, claimant: str | None) -> CodeView:
    # a code without a platform of its own serves its campaign's platform (every code of an
    # iOS campaign is an iOS code); only a universal campaign's such codes are "any"
    campaign_platform = "" if c.platform == Platform.UNIVERSAL else str(c.platform)
    return CodeView(
        id=row.id,
        code=mask_code(row.code),
        platform=row.platform or campaign_platform,
        status=row.status,
        claimant=claimant,
        claimed_at=row.claimed_at,
        used_at=row.used_at,
        expires_at=row.expires_at,
    )


def _status(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return CodeStatus(value).value
    except ValueError:
        raise ValidationFailed(
            f"Unknown status {value!r}; use available, claimed, used or expired.", field="status"
        ) from None


async def list_codes(
    *,
    owner_id: int,
    campaign_id: str,
    secret_key: str,
    status: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[CodeView], int]:
    """A page of a campaign's codes (masked) and the total matching count.

    Web and anonymous claimants appear as pseudonyms keyed with `secret_key` (domain.claimants).
    """
    c = await require(campaign_id=campaign_id, developer_id=owner_id, role=Role.VIEWER)
    # the access check reads the primary; the listing may lag a little (the replica)
    query = PromoCode.filter(campaign_id=c.id).using_db(read_connection())
    if wanted := _status(status):
        query = query.filter(status=wanted)
    total = await query.count()
    rows = await query.order_by("id").offset(offset).limit(limit)
    return [_view(r, c, pseudonym(secret_key, c.public_id, r.claimant)) for r in rows], total


async def _find(campaign_pk: int, code: str) -> PromoCode:
    row = await PromoCode.get_or_none(campaign_id=campaign_pk, code=code.strip())
    if row is None:
        raise CodeNotFound(f"No code {mask_code(code.strip())} in this campaign.")
    return row


async def full_code(*, owner_id: int, campaign_id: str, code_id: int) -> str:
    """The full text of one code, by id, for a row action (mark used, release): managers."""
    c = await require(campaign_id=campaign_id, developer_id=owner_id, role=Role.MANAGER)
    if not is_row_id(code_id):
        raise CodeNotFound(f"No code #{code_id} in this campaign.")
    row = await PromoCode.get_or_none(id=code_id, campaign_id=c.id)
    if row is None:
        raise CodeNotFound(f"No code #{code_id} in this campaign.")
    return row.code


@dataclass(frozen=True, slots=True)
class BulkResult:
    updated: int
    not_found: list[str]
    skipped: list[str]


async def mark_used(*, owner_id: int, campaign_id: str, codes: Sequence[str]) -> BulkResult:
    """Mark claimed (or available) codes used; unknown codes are listed, nothing else changes."""
    if not codes or len(codes) > MAX_BULK:
        raise ValidationFailed(f"Send 1-{MAX_BULK} codes.", field="codes")
    c = await require(campaign_id=campaign_id, developer_id=owner_id, role=Role.MANAGER)
    wanted = list(dict.fromkeys(x.strip() for x in codes))
    rows = await PromoCode.filter(campaign_id=c.id, code__in=wanted)
    found = {r.code: r for r in rows}
    ids = [r.id for r in rows if r.status != CodeStatus.USED]
    updated = 0
    notify = await outbox.wanted(c.owner_id, outbox.CODE_USED) if ids else False  # type: ignore[attr-defined]
    now = clock.now()
    async with in_transaction() as conn:
        if ids:
            updated = (
                await PromoCode.filter(id__in=ids, status__not=CodeStatus.USED)
                .using_db(conn)
                .update(status=CodeStatus.USED, used_at=now)
            )
            if notify and updated:
                await outbox.write(
                    conn,
                    c.owner_id,  # type: ignore[attr-defined]
                    [_used_event(c.public_id, r, now) for r in rows if r.id in ids],
                    now,
                )
        await audit.record(
            Action.CODES_MARK_USED,
            actor_id=owner_id,
            campaign=c,
            target=f"codes:{len(wanted)}",
            detail={"asked": len(wanted), "updated": updated, "code_ids": ids[:50]},
            using_db=conn,
        )
    return BulkResult(
        updated=updated,
        not_found=[mask_code(x) for x in wanted if x not in found],
        skipped=[mask_code(x) for x in wanted if x in found and found[x].status == CodeStatus.USED],
    )


def _used_event(campaign_id: str, row: PromoCode, now: datetime) -> outbox.OutboxEntry:
    return outbox.OutboxEntry(
        outbox.CODE_USED,
        campaign_id,
        {
            "campaign_id": campaign_id,
            "code_id": row.id,
            "code": mask_code(row.code),
            "claimant": row.claimant,
            "used_at": now.isoformat(),
        },
    )


async def release(*, owner_id: int, campaign_id: str, code: str) -> CodeView:
    """Return a claimed code to the pool; the claimant's claim is released with it."""
    c = await require(campaign_id=campaign_id, developer_id=owner_id, role=Role.MANAGER)
    row = await _find(c.id, code)
    if row.status != CodeStatus.CLAIMED:
        raise ValidationFailed(
            f"Only claimed codes can be released; this one is {row.status}.", field="code"
        )
    async with in_transaction() as conn:
        changed = (
            await PromoCode.filter(id=row.id, status=CodeStatus.CLAIMED)
            .using_db(conn)
            .update(status=CodeStatus.AVAILABLE, claimant=None, claimed_at=None)
        )
        if changed:
            await (
                Claim.filter(code_id=row.id, slot__isnull=False)
                .using_db(conn)
                .update(slot=None, released_at=clock.now())
            )
            await outbox.record(
                conn,
                c.owner_id,  # type: ignore[attr-defined]
                outbox.CODE_RELEASED,
                c.public_id,
                {
                    "campaign_id": c.public_id,
                    "code_id": row.id,
                    "code": mask_code(row.code),
                    "claimant": row.claimant,
                },
            )
            await audit.record(
                Action.CODE_RELEASE,
                actor_id=owner_id,
                campaign=c,
                target=f"code:{row.id}",
                detail={"masked": mask_code(row.code)},
                using_db=conn,
            )
    if changed:
        await reopen_if_sold_out(c, clock.now())
    forget_card(campaign_id)
    await row.refresh_from_db()
    return _view(row, c, None if changed else row.claimant)


def spreadsheet_safe(value: str | None) -> str:
    """Neutralise cells a spreadsheet would evaluate (`=HYPERLINK(...)`, `+1`, `-2`, `@x`).

    Judged on the NFKC form: spreadsheets read a full-width equals sign (U+FF1D) as `=`.
    """
    if not value:
        return ""
    seen = unicodedata.normalize("NFKC", value).lstrip(" ")
    return "'" + value if seen.startswith(FORMULA_START) else value


async def export_csv(
    *,
    owner_id: int,
    campaign_id: str,
    secret_key: str,
    status: str | None = None,
    batch: int = 5000,
) -> AsyncIterator[str]:
    """The campaign's codes in full as CSV text chunks (owners only; streamed in batches).

    Web and anonymous claimants appear as pseudonyms, as in the listing. The export is
    audited when it is asked for, before the first row leaves. One generator: the
    audit, the batching cursor and the CSV writer share state across every yielded chunk.
    """
    c = await require(campaign_id=campaign_id, developer_id=owner_id, role=Role.OWNER)
    wanted = _status(status)
    await audit.record(
        Action.CODES_EXPORT,
        actor_id=owner_id,
        campaign=c,
        target=f"campaign:{c.public_id}",
        detail={"status": wanted or "all"},
    )

    replica = read_connection()

    async def rows() -> AsyncIterator[str]:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(
            [
                "code",
                "platform",
                "status",
                "claimant",
                "claimed_at",
                "used_at",
                "metadata",
                "expires_at",
            ]
        )
        last = 0
        while True:
            query = PromoCode.filter(campaign_id=c.id, id__gt=last).using_db(replica)
            if wanted:
                query = query.filter(status=wanted)
            page = await query.order_by("id").limit(batch)
            for r in page:
                writer.writerow(
                    [
                        spreadsheet_safe(r.code),
                        r.platform,
                        r.status,
                        spreadsheet_safe(pseudonym(secret_key, c.public_id, r.claimant)),
                        r.claimed_at.isoformat() if r.claimed_at else "",
                        r.used_at.isoformat() if r.used_at else "",
                        spreadsheet_safe(r.metadata),
                        r.expires_at.isoformat() if r.expires_at else "",
                    ]
                )
            yield out.getvalue()
            out.seek(0)
            out.truncate()
            if len(page) < batch:
                return
            last = page[-1].id

    return rows()
