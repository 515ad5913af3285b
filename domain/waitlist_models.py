"""The waitlist's tables: who waits, each time a campaign came back, and each notice owed.

Kept beside `domain.models` (which re-exports them, so tortoise finds them there) to keep
that module readable. Every row goes with its campaign (`ON DELETE CASCADE` all the way down).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from domain.fields import ExactCharField

if TYPE_CHECKING:
    from domain.models import Campaign


class WaitlistEntry(Model):
    """A member who asked to be told when a sold-out campaign gets codes again.

    E-mail waiters (channel `web`) are keyed by their address (`claimant` is `email:` and the
    SHA-256 of the lower-cased address), confirm it through a link (only the SHA-256 of that
    link's token is kept, in `confirm_hash`) and carry `mail_key`, the random token of their
    unsubscribe link, kept as is because every mail must carry it again.
    """

    id = fields.IntField(primary_key=True)
    campaign: fields.ForeignKeyRelation[Campaign] = fields.ForeignKeyField(
        "models.Campaign", related_name="waitlist", on_delete=fields.CASCADE
    )
    claimant = ExactCharField(max_length=100)
    channel = fields.CharField(max_length=16)
    contact = fields.CharField(max_length=254, description="chat id or e-mail address")
    created_at = fields.DatetimeField(auto_now_add=True)
    notified_at = fields.DatetimeField(null=True)
    mail_key = ExactCharField(max_length=43, null=True, unique=True)
    confirm_hash = ExactCharField(max_length=64, null=True, unique=True)
    confirm_expires_at = fields.DatetimeField(null=True)
    confirm_sent_at = fields.DatetimeField(null=True)
    confirmed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "waitlist"
        unique_together = (("campaign", "claimant"),)


class WaitlistRestock(Model):
    """One time a campaign with confirmed e-mail waiters became claimable again.

    `seq` counts a campaign's restocks; the unique (campaign, seq) key lets only one process
    record each. `closed_at` is set when the campaign stops being claimable.
    """

    id = fields.IntField(primary_key=True)
    campaign: fields.ForeignKeyRelation[Campaign] = fields.ForeignKeyField(
        "models.Campaign", related_name="restocks", on_delete=fields.CASCADE
    )
    seq = fields.IntField()
    opened_at = fields.DatetimeField()
    closed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "waitlist_restocks"
        unique_together = (("campaign", "seq"),)


class WaitlistNotice(Model):
    """The restock notice owed to one waiter for one restock.

    Unique (entry, restock), so one address gets at most one row per restock, and the row's
    status is claimed (pending to sending) before its mail is sent."""

    id = fields.BigIntField(primary_key=True)
    entry: fields.ForeignKeyRelation[WaitlistEntry] = fields.ForeignKeyField(
        "models.WaitlistEntry", related_name="notices", on_delete=fields.CASCADE
    )
    restock: fields.ForeignKeyRelation[WaitlistRestock] = fields.ForeignKeyField(
        "models.WaitlistRestock", related_name="notices", on_delete=fields.CASCADE
    )
    status = fields.CharField(max_length=16, default="pending")
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField()
    last_attempt_at = fields.DatetimeField(null=True)
    last_error = fields.CharField(max_length=300, default="")
    sent_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "waitlist_notices"
        unique_together = (("entry", "restock"),)
        indexes = (Index(fields=("status", "next_attempt_at"), name="waitlist_notices_due"),)
