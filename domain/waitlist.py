"""The waitlist: members who asked to hear when a sold-out campaign gets codes again.

Bot members wait by chat id and are told by their bot (bots/*/notices.py). Visitors of the
claim page wait by e-mail address, with double opt-in: joining mails a confirmation link
(`/c/{campaign}/waitlist/confirm?token=…`; only the SHA-256 of the random token is stored,
and it works for `waitlist_confirm_days`), and only confirmed addresses receive restock
notices (domain/waitlist_notices.py). Every mail carries a one-click unsubscribe link (RFC
8058) whose POST deletes the address. An address is one waiter per campaign however many
browsers type it: its key is the SHA-256 of the lower-cased address.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from urllib.parse import quote

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from domain import audit, clock, events
from domain.access import Role, require
from domain.campaigns import public_card, public_row
from domain.codes import spreadsheet_safe
from domain.errors import CampaignNotFound, ServiceUnavailable, ValidationFailed
from domain.events import Event
from domain.mail import Mail, MailDeferred, Mailer, MailRefused
from domain.models import Campaign, WaitlistEntry
from domain.values import Channel, Claimant

EMAIL = re.compile(r"^[^@\s<>\"',;]{1,64}@[^@\s<>\"',;]{1,190}\.[A-Za-z]{2,}$")
EMAIL_KEY = "email:"
# a second confirmation mail to one address goes out no sooner than this after the first
RESEND_AFTER = timedelta(minutes=2)
# the length of every token we issue (`secrets.token_urlsafe(32)`) and of the `mail_key`
# column: a longer one is no token of ours (and tortoise refuses it as a filter value)
TOKEN_LENGTH = 43


@dataclass(frozen=True, slots=True)
class Waiter:
    id: int
    claimant: str
    channel: str
    contact: str


async def join(*, campaign_id: str, claimant: Claimant, channel: str, contact: str) -> bool:
    """Put a member on the campaign's waitlist; False when they were already on it."""
    c = await public_row(campaign_id)
    if not c.waitlist_enabled:
        raise ValidationFailed("This campaign has no waitlist.", field="waitlist")
    contact = contact.strip()
    if not 1 <= len(contact) <= 254:
        raise ValidationFailed("The contact must be 1-254 characters.", field="contact")
    try:
        await WaitlistEntry.create(
            campaign_id=c.id, claimant=claimant.key, channel=channel, contact=contact
        )
    except IntegrityError:
        # already waiting: refresh the contact, keep their place
        await WaitlistEntry.filter(campaign_id=c.id, claimant=claimant.key).update(
            contact=contact, notified_at=None
        )
        return False
    return True


async def waiting(*, campaign_id: str, channel: str, limit: int = 1000) -> list[Waiter]:
    """Members of one channel still waiting on a campaign, oldest first."""
    c = await public_row(campaign_id)
    rows = (
        await WaitlistEntry.filter(campaign_id=c.id, channel=channel, notified_at=None)
        .order_by("id")
        .limit(limit)
    )
    return [Waiter(r.id, r.claimant, r.channel, r.contact) for r in rows]


async def due_for_notice(*, event: Event) -> bool:
    """True when `event` means the campaign's codes are claimable again, so its waitlist is told.

    A restock or a campaign made active again counts, but only while the campaign is open:
    codes added to a paused or not-yet-started campaign keep the members waiting.
    """
    restocked = event.name == events.CODES_RESTOCKED
    reopened = event.name == events.CAMPAIGN_STATUS_CHANGED and event.data.get("to") == "active"
    if not (restocked or reopened):
        return False
    try:
        card = await public_card(campaign_id=event.campaign_id)
    except CampaignNotFound:
        return False
    return card.state == "open"


async def each_waiting(*, campaign_id: str, channel: str, page: int = 500) -> AsyncIterator[Waiter]:
    """Every member of one channel still waiting on a campaign, oldest first, `page` per query.

    Pages by id, so a waiter the caller skips (or fails to mark notified) is never read twice.
    """
    c = await public_row(campaign_id)
    after = 0
    while True:
        rows = (
            await WaitlistEntry.filter(
                campaign_id=c.id, channel=channel, notified_at=None, id__gt=after
            )
            .order_by("id")
            .limit(page)
        )
        for r in rows:
            yield Waiter(r.id, r.claimant, r.channel, r.contact)
        if len(rows) < page:
            return
        after = rows[-1].id


async def mark_notified(*, entry_id: int) -> bool:
    """Record that a waiting member was told; True only for the first caller (no double DMs)."""
    return bool(
        await WaitlistEntry.filter(id=entry_id, notified_at=None).update(notified_at=clock.now())
    )


async def size(*, campaign_id: str) -> int:
    c = await public_row(campaign_id)
    return await WaitlistEntry.filter(campaign_id=c.id, notified_at=None).count()


# ------------------------------------------------------------------ e-mail waiters


class Joined(StrEnum):
    """What joining by e-mail did."""

    CONFIRMATION_SENT = "confirmation_sent"  # a confirmation link is on its way
    CONFIRMATION_PENDING = "confirmation_pending"  # one was sent moments ago; none resent
    CONFIRMED = "confirmed"  # the address was confirmed before
    STORED = "stored"  # no mail transport: the address is kept for the owner, unconfirmed


class Confirmed(StrEnum):
    CONFIRMED = "confirmed"
    ALREADY = "already"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class MailSetup:
    """What mail to waiters needs: the mailer, the public base URL of links, an optional
    mailbox for `mailto:` unsubscribes, and how long a confirmation link works."""

    mailer: Mailer
    public_url: str
    unsubscribe_mailto: str | None = None
    confirm_ttl: timedelta = timedelta(days=7)

    def link(self, path: str, token: str) -> str:
        return f"{self.public_url.rstrip('/')}{path}?token={quote(token, safe='')}"

    def unsubscribe_url(self, campaign_id: str, mail_key: str) -> str:
        return self.link(f"/c/{campaign_id}/waitlist/unsubscribe", mail_key)

    def list_headers(self, campaign_id: str, mail_key: str) -> dict[str, str]:
        """`List-Unsubscribe` (the one-click URL, and a mailbox when configured) and
        `List-Unsubscribe-Post` (RFC 8058): mail clients unsubscribe with one POST."""
        targets = [f"<{self.unsubscribe_url(campaign_id, mail_key)}>"]
        if self.unsubscribe_mailto:
            subject = quote(f"unsubscribe {mail_key}", safe="")
            targets.append(f"<mailto:{self.unsubscribe_mailto}?subject={subject}>")
        return {
            "List-Unsubscribe": ", ".join(targets),
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        }


def address_key(address: str) -> str:
    """The claimant key of an e-mail waiter: one per address, whatever its letter case."""
    return EMAIL_KEY + hashlib.sha256(address.strip().lower().encode()).hexdigest()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def checked_address(address: str) -> str:
    """The address, trimmed, or `ValidationFailed` when it does not look like one."""
    address = address.strip()
    if len(address) > 254 or not EMAIL.match(address):
        raise ValidationFailed("Enter an e-mail address like name@example.com.", field="email")
    return address


def confirmation_mail(setup: MailSetup, c: Campaign, entry: WaitlistEntry, token: str) -> Mail:
    link = setup.link(f"/c/{c.public_id}/waitlist/confirm", token)
    days = max(1, int(setup.confirm_ttl.total_seconds() // 86400))
    assert entry.mail_key is not None
    return Mail(
        to=entry.contact,
        subject=f"Confirm the waitlist of {c.name}",
        text=(
            f"Someone (we hope you) asked to hear when {c.name} has codes again.\n\n"
            f"Confirm with this link (it works for {days} days):\n{link}\n\n"
            "If it was not you, ignore this mail: an address that is not confirmed gets"
            f" nothing more.\n\nUnsubscribe: {setup.unsubscribe_url(c.public_id, entry.mail_key)}\n"
        ),
        headers=setup.list_headers(c.public_id, entry.mail_key),
    )


async def join_by_email(*, campaign_id: str, address: str, setup: MailSetup) -> Joined:
    """Put an address on the campaign's waitlist and mail it a confirmation link.

    The link's token is new on every mail; only its hash is stored, so a link from an
    earlier mail stops working. Two joins racing for one address send one mail: the send is
    claimed by a conditional UPDATE of `confirm_sent_at`. When the mail cannot be handed
    over, the claim is undone (the member may try again at once) and `ServiceUnavailable`
    says so. Without a mail transport the log mailer records the mail (no address in full)
    and the address stays unconfirmed: `Joined.STORED`.
    """
    c = await public_row(campaign_id)
    if not c.waitlist_enabled:
        raise ValidationFailed("This campaign has no waitlist.", field="waitlist")
    address = checked_address(address)
    key = address_key(address)
    entry = await WaitlistEntry.get_or_none(campaign_id=c.id, claimant=key)
    if entry is None:
        try:
            entry = await WaitlistEntry.create(
                campaign_id=c.id,
                claimant=key,
                channel=Channel.WEB,
                contact=address,
                mail_key=secrets.token_urlsafe(32),
            )
        except IntegrityError:
            entry = await WaitlistEntry.get(campaign_id=c.id, claimant=key)
    if entry.confirmed_at is not None:
        return Joined.CONFIRMED
    now = clock.now()
    token = secrets.token_urlsafe(32)
    claimed = await WaitlistEntry.filter(
        Q(id=entry.id), Q(confirm_sent_at__isnull=True) | Q(confirm_sent_at__lt=now - RESEND_AFTER)
    ).update(
        contact=address,
        mail_key=entry.mail_key or secrets.token_urlsafe(32),
        confirm_hash=token_hash(token),
        confirm_expires_at=now + setup.confirm_ttl,
        confirm_sent_at=now,
    )
    if not claimed:
        return Joined.CONFIRMATION_PENDING if setup.mailer.sends else Joined.STORED
    await entry.refresh_from_db()
    try:
        await setup.mailer.send(confirmation_mail(setup, c, entry, token))
    except (MailDeferred, MailRefused):
        await WaitlistEntry.filter(id=entry.id).update(confirm_sent_at=None, confirm_hash=None)
        raise ServiceUnavailable(
            "The confirmation e-mail could not be sent just now. Try again in a few minutes."
        ) from None
    return Joined.CONFIRMATION_SENT if setup.mailer.sends else Joined.STORED


async def _by_token(campaign_id: str, token: str, **lookup: str) -> WaitlistEntry | None:
    if not token or len(token) > TOKEN_LENGTH:
        return None
    c = await public_row(campaign_id)
    return await WaitlistEntry.filter(campaign_id=c.id, **lookup).first()


async def check_confirmation(*, campaign_id: str, token: str) -> Confirmed:
    """What a confirmation link would do now, without doing it (the page shown by GET)."""
    entry = await _by_token(campaign_id, token, confirm_hash=token_hash(token))
    if entry is None:
        return Confirmed.UNKNOWN
    if entry.confirmed_at is not None:
        return Confirmed.ALREADY
    expires = clock.as_utc(entry.confirm_expires_at)
    if expires is None or expires <= clock.now():
        return Confirmed.EXPIRED
    return Confirmed.CONFIRMED


async def confirm(*, campaign_id: str, token: str) -> Confirmed:
    """Confirm the address a confirmation link was mailed to (the token compares exactly)."""
    state = await check_confirmation(campaign_id=campaign_id, token=token)
    if state is not Confirmed.CONFIRMED:
        return state
    changed = await WaitlistEntry.filter(
        confirm_hash=token_hash(token), confirmed_at__isnull=True
    ).update(confirmed_at=clock.now())
    return Confirmed.CONFIRMED if changed else Confirmed.ALREADY


async def is_subscribed(*, campaign_id: str, token: str) -> bool:
    """Whether an unsubscribe link still names an address on the waitlist."""
    return await _by_token(campaign_id, token, mail_key=token) is not None


async def unsubscribe(*, campaign_id: str, token: str) -> bool:
    """Delete the address an unsubscribe link names (its notices go with it); False when
    it was gone already."""
    entry = await _by_token(campaign_id, token, mail_key=token)
    if entry is None:
        return False
    return bool(await WaitlistEntry.filter(id=entry.id).delete())


EXPORT_COLUMNS = ["channel", "contact", "joined_at", "confirmed_at", "notified_at"]


async def export_csv(
    *, developer_id: int, campaign_id: str, batch: int = 2000
) -> AsyncIterator[str]:
    """The campaign's waitlist as CSV text chunks (owners only, audited before the first row
    leaves; safe to open in a spreadsheet; read in batches by id).

    `contact` is the e-mail address (web) or the chat id (bots); `confirmed_at` is empty for
    an address that never confirmed, and for bot members (their bot is their confirmation).
    """
    c = await require(campaign_id=campaign_id, developer_id=developer_id, role=Role.OWNER)
    await audit.record(
        "waitlist.export", actor_id=developer_id, campaign=c, target=f"campaign:{c.public_id}"
    )

    async def rows() -> AsyncIterator[str]:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(EXPORT_COLUMNS)
        last = 0
        while True:
            page = (
                await WaitlistEntry.filter(campaign_id=c.id, id__gt=last)
                .order_by("id")
                .limit(batch)
            )
            for r in page:
                writer.writerow(
                    [
                        r.channel,
                        spreadsheet_safe(r.contact),
                        r.created_at.isoformat(),
                        r.confirmed_at.isoformat() if r.confirmed_at else "",
                        r.notified_at.isoformat() if r.notified_at else "",
                    ]
                )
            yield out.getvalue()
            out.seek(0)
            out.truncate()
            if len(page) < batch:
                return
            last = page[-1].id

    return rows()


async def forget_after_end(*, older_than: timedelta) -> int:
    """Delete the waitlists of campaigns that ended more than `older_than` ago: archived, or
    completed other than by selling out (a sold-out campaign may restock), judged by the
    campaign's last change; or past their `ends_at`."""
    cutoff = clock.now() - older_than
    ended = Campaign.filter(
        Q(status="archived")
        | Q(status="completed", completed_reason__not="sold_out")
        | Q(status="completed", completed_reason__isnull=True),
        updated_at__lt=cutoff,
    )
    ids = set(await ended.values_list("id", flat=True))
    ids |= set(await Campaign.filter(ends_at__lt=cutoff).values_list("id", flat=True))
    if not ids:
        return 0
    return await WaitlistEntry.filter(campaign_id__in=list(ids)).delete()
