"""Tortoise models: the tables and the constraints that keep the promise.

The unique constraints here are the final arbiters of fairness: `(campaign, code)` keeps a code
from being imported twice, `(campaign, claimant, slot)` keeps a claimant from holding more than
the campaign allows, and the conditional UPDATE in `domain.claims` keeps a code from two people.
Schema changes go through `domain/migrations` (`codedrop makemigrations`, `codedrop migrate`).
"""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from domain.fields import ExactCharField


class Developer(Model):
    """A campaign owner."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100)
    email = fields.CharField(max_length=254, unique=True)
    is_active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "developers"


class ApiKey(Model):
    """A developer's API key. Only its SHA-256 is stored, the key is shown once."""

    id = fields.IntField(primary_key=True)
    developer: fields.ForeignKeyRelation[Developer] = fields.ForeignKeyField(
        "models.Developer", related_name="api_keys", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=100, default="default")
    prefix = ExactCharField(max_length=32, description="public part shown in listings")
    key_hash = ExactCharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_keys"


class Identity(Model):
    """A chat account (Telegram or Discord) linked to a developer."""

    id = fields.IntField(primary_key=True)
    developer: fields.ForeignKeyRelation[Developer] = fields.ForeignKeyField(
        "models.Developer", related_name="identities", on_delete=fields.CASCADE
    )
    provider = fields.CharField(max_length=16)
    external_id = ExactCharField(max_length=64)
    chat_id = fields.CharField(max_length=64, null=True, description="where notices go")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "identities"
        unique_together = (("provider", "external_id"),)


class LinkToken(Model):
    """A one-time token that links a chat account to an existing developer (`/link <token>`)."""

    id = fields.IntField(primary_key=True)
    developer: fields.ForeignKeyRelation[Developer] = fields.ForeignKeyField(
        "models.Developer", related_name="link_tokens", on_delete=fields.CASCADE
    )
    token_hash = ExactCharField(max_length=64, unique=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "link_tokens"


class WebSession(Model):
    """A signed-in dashboard session: the cookie carries its random id, only the id's SHA-256
    is stored. Signing out deletes the row, so the old cookie stops working at once."""

    id = fields.IntField(primary_key=True)
    token_hash = ExactCharField(max_length=64, unique=True)
    api_key: fields.ForeignKeyRelation[ApiKey] = fields.ForeignKeyField(
        "models.ApiKey", related_name="web_sessions", on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "web_sessions"


class Campaign(Model):
    """A pool of single-use codes and the rules for handing them out."""

    id = fields.IntField(primary_key=True)
    public_id = ExactCharField(max_length=32, unique=True)
    owner: fields.ForeignKeyRelation[Developer] = fields.ForeignKeyField(
        "models.Developer", related_name="campaigns", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=120)
    description = fields.TextField(default="")
    platform = fields.CharField(max_length=16, default="universal")
    status = fields.CharField(max_length=16, default="draft", db_index=True)
    starts_at = fields.DatetimeField(null=True)
    start_announced_at = fields.DatetimeField(
        null=True, description="the starts_at whose opening the lifecycle job announced"
    )
    ends_at = fields.DatetimeField(null=True)
    per_claimant_limit = fields.IntField(default=1)
    eligibility: fields.Field[dict[str, Any]] = fields.JSONField(default=dict)
    low_stock_threshold = fields.IntField(default=0)
    low_stock_alerted = fields.BooleanField(default=False)
    waitlist_enabled = fields.BooleanField(default=True)
    identity = fields.CharField(
        max_length=16, default="anonymous", description="anonymous or verified (IdentityMode)"
    )
    completed_reason = fields.CharField(max_length=16, null=True)
    code_ttl_days = fields.IntField(null=True, description="imported codes expire after this")
    expiry_noticed_on = fields.DateField(null=True, description="last expiring-soon notice")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "campaigns"


class CampaignMember(Model):
    """A developer who shares a campaign with its owner, with a role (viewer, manager, owner).

    The `owner` of the campaign is always an owner without a row here: `domain.access` decides.
    """

    id = fields.IntField(primary_key=True)
    campaign: fields.ForeignKeyRelation[Campaign] = fields.ForeignKeyField(
        "models.Campaign", related_name="members", on_delete=fields.CASCADE
    )
    developer: fields.ForeignKeyRelation[Developer] = fields.ForeignKeyField(
        "models.Developer", related_name="memberships", on_delete=fields.CASCADE
    )
    role = fields.CharField(max_length=16)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "campaign_members"
        unique_together = (("campaign", "developer"),)


class Invite(Model):
    """A one-time invitation to a campaign with a role. Only the SHA-256 of the token is kept."""

    id = fields.IntField(primary_key=True)
    campaign: fields.ForeignKeyRelation[Campaign] = fields.ForeignKeyField(
        "models.Campaign", related_name="invites", on_delete=fields.CASCADE
    )
    role = fields.CharField(max_length=16)
    token_hash = ExactCharField(max_length=64, unique=True)
    created_by_id = fields.IntField()
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    used_by_id = fields.IntField(null=True)

    class Meta:
        table = "campaign_invites"


class AuditEntry(Model):
    """One developer action: who, through which channel, when, on what. Never a full code or a
    secret. Ids are plain columns, not foreign keys: the log outlives deleted campaigns."""

    id = fields.BigIntField(primary_key=True)
    actor_id = fields.IntField(null=True, description="the acting developer")
    channel = fields.CharField(max_length=16, description="api, dashboard, bot, cli or system")
    action = fields.CharField(max_length=48)
    campaign_pk = fields.IntField(null=True)
    campaign_public_id = ExactCharField(max_length=32, default="")
    owner_id = fields.IntField(null=True, description="owner of the campaign at the time")
    target = fields.CharField(max_length=200, default="")
    detail: fields.Field[dict[str, Any]] = fields.JSONField(default=dict)
    created_at = fields.DatetimeField()

    class Meta:
        table = "audit_log"
        indexes = (
            Index(fields=("campaign_pk", "id"), name="audit_by_campaign"),
            Index(fields=("actor_id", "id"), name="audit_by_actor"),
            Index(fields=("owner_id", "id"), name="audit_by_owner"),
        )


class PromoCode(Model):
    """One single-use code. `platform` is '' when the code works on any platform."""

    id = fields.BigIntField(primary_key=True)
    campaign: fields.ForeignKeyRelation[Campaign] = fields.ForeignKeyField(
        "models.Campaign", related_name="codes", on_delete=fields.CASCADE, db_index=False
    )
    code = ExactCharField(max_length=64)
    platform = fields.CharField(max_length=16, default="")
    metadata = fields.CharField(max_length=1024, null=True)
    status = fields.CharField(max_length=16, default="available")
    claimant = ExactCharField(max_length=100, null=True)
    claimed_at = fields.DatetimeField(null=True)
    used_at = fields.DatetimeField(null=True)
    upload_id = fields.IntField(null=True)
    expires_at = fields.DatetimeField(null=True, description="not handed out from then on")

    class Meta:
        table = "promo_codes"
        unique_together = (("campaign", "code"),)
        indexes = (
            # "next available code for this platform" is one seek on this index
            Index(fields=("campaign_id", "status", "platform", "id"), name="promo_next_available"),
            # archival scans `used_at < cutoff`; leaving `status` out keeps claims (which change
            # status, not used_at) from touching this index at all
            Index(fields=("used_at",), name="promo_by_used_at"),
            # the expiry sweep and the expiring-soon notice seek `status='available' AND
            # expires_at <= …` here instead of scanning every code
            Index(fields=("status", "expires_at"), name="promo_by_expiry"),
        )


class Claim(Model):
    """One acknowledged claim. `slot` 1..limit is unique per claimant, NULL once released."""

    id = fields.BigIntField(primary_key=True)
    campaign: fields.ForeignKeyRelation[Campaign] = fields.ForeignKeyField(
        "models.Campaign", related_name="claims", on_delete=fields.CASCADE, db_index=False
    )
    claimant = ExactCharField(max_length=100)
    slot = fields.IntField(null=True)
    code_id = fields.BigIntField()
    code = ExactCharField(max_length=64)
    channel = fields.CharField(max_length=16)
    platform = fields.CharField(max_length=16, default="")
    idempotency_key = ExactCharField(max_length=128, null=True)
    created_at = fields.DatetimeField()
    released_at = fields.DatetimeField(null=True)

    class Meta:
        table = "claims"
        unique_together = (("campaign", "claimant", "slot"),)
        indexes = (
            Index(fields=("claimant", "created_at"), name="claims_by_claimant"),
            Index(fields=("campaign_id", "created_at"), name="claims_by_time"),
        )


class Upload(Model):
    """One CSV/TXT import and its report."""

    id = fields.IntField(primary_key=True)
    public_id = ExactCharField(max_length=32, unique=True)
    campaign: fields.ForeignKeyRelation[Campaign] = fields.ForeignKeyField(
        "models.Campaign", related_name="uploads", on_delete=fields.CASCADE
    )
    filename = fields.CharField(max_length=255, default="")
    object_key = fields.CharField(max_length=255, null=True)
    status = fields.CharField(max_length=16, default="pending")
    total_bytes = fields.BigIntField(default=0)
    expected_rows = fields.IntField(null=True, description="lines in the file (progress total)")
    rows = fields.IntField(default=0)
    imported = fields.IntField(default=0)
    duplicates = fields.IntField(default=0)
    invalid = fields.IntField(default=0)
    errors: fields.Field[list[dict[str, Any]]] = fields.JSONField(default=list)
    created_at = fields.DatetimeField(auto_now_add=True)
    finished_at = fields.DatetimeField(null=True)
    object_deleted_at = fields.DatetimeField(null=True)

    class Meta:
        table = "uploads"


class ArchivedCode(Model):
    """A used code moved out of `promo_codes` by the archival job."""

    # expired codes are archived too (status `expired`, domain.archive)

    id = fields.BigIntField(primary_key=True)
    original_id = fields.BigIntField(unique=True, description="its id in promo_codes")
    campaign_id = fields.IntField()
    code = ExactCharField(max_length=64)
    platform = fields.CharField(max_length=16, default="")
    claimant = ExactCharField(max_length=100, null=True)
    claimed_at = fields.DatetimeField(null=True)
    used_at = fields.DatetimeField(null=True)
    archived_at = fields.DatetimeField()
    status = fields.CharField(max_length=16, default="used", description="used or expired")
    expires_at = fields.DatetimeField(null=True)

    class Meta:
        table = "archived_codes"
        indexes = (Index(fields=("campaign_id",), name="archived_by_campaign"),)


class IdempotencyRecord(Model):
    """The stored answer to a request made with an `Idempotency-Key`."""

    id = fields.BigIntField(primary_key=True)
    scope = ExactCharField(max_length=100)
    key = ExactCharField(max_length=128)
    request_hash = ExactCharField(max_length=64)
    status_code = fields.IntField(null=True)
    response: fields.Field[Any] = fields.JSONField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "idempotency_records"
        unique_together = (("scope", "key"),)


class JobLease(Model):
    """A lease that keeps each scheduled job run to one scheduler process."""

    name = ExactCharField(max_length=100, primary_key=True)
    owner = ExactCharField(max_length=100)
    expires_at = fields.DatetimeField()

    class Meta:
        table = "job_leases"


class JobRun(Model):
    """The last run of each scheduled job (what `codedrop jobs list` shows)."""

    name = fields.CharField(max_length=64, primary_key=True)
    status = fields.CharField(max_length=16, description="ran or failed")
    started_at = fields.DatetimeField()
    finished_at = fields.DatetimeField()
    summary: fields.Field[dict[str, Any]] = fields.JSONField(default=dict)

    class Meta:
        table = "job_runs"


class Report(Model):
    """A usage report written by the reports job."""

    id = fields.IntField(primary_key=True)
    developer: fields.ForeignKeyRelation[Developer] = fields.ForeignKeyField(
        "models.Developer", related_name="reports", on_delete=fields.CASCADE
    )
    period = fields.CharField(max_length=32)
    object_key = fields.CharField(max_length=255)
    summary: fields.Field[dict[str, Any]] = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "reports"
        unique_together = (("developer", "period"),)


class ChatPost(Model):
    """A campaign card posted in a chat (a Discord drop message), kept to update its count.

    It also says which campaigns a server or group may claim from: those posted there.
    """

    id = fields.IntField(primary_key=True)
    campaign: fields.ForeignKeyRelation[Campaign] = fields.ForeignKeyField(
        "models.Campaign", related_name="posts", on_delete=fields.CASCADE
    )
    provider = fields.CharField(max_length=16)
    guild_id = ExactCharField(max_length=32, description="server or group the post is in")
    channel_id = ExactCharField(max_length=32)
    message_id = ExactCharField(max_length=32)
    posted_by = fields.CharField(max_length=64, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "chat_posts"
        unique_together = (("provider", "channel_id", "message_id"),)
        indexes = (Index(fields=("provider", "guild_id"), name="chat_posts_by_guild"),)


class Webhook(Model):
    """A developer's endpoint for events. `events` maps each subscribed event name to the time
    from which it is owed (domain/outbox.py explains why that time trails the change)."""

    id = fields.IntField(primary_key=True)
    public_id = ExactCharField(max_length=32, unique=True)
    owner: fields.ForeignKeyRelation[Developer] = fields.ForeignKeyField(
        "models.Developer", related_name="webhooks", on_delete=fields.CASCADE
    )
    url = fields.CharField(max_length=2000)
    description = fields.CharField(max_length=200, default="")
    events: fields.Field[dict[str, str]] = fields.JSONField(default=dict)
    secret = fields.CharField(max_length=100, description="whsec_<base64>: signs deliveries")
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "webhooks"
        indexes = (Index(fields=("owner_id", "active"), name="webhooks_by_owner"),)


class OutboxEvent(Model):
    """An event written in the transaction of the change it reports (the outbox).

    `event_id` is the stable id receivers de-duplicate on (the `webhook-id` header).
    `fanned_out` turns true once the dispatcher made its deliveries.
    """

    id = fields.BigIntField(primary_key=True)
    event_id = ExactCharField(max_length=40, unique=True)
    owner_id = fields.IntField()
    name = fields.CharField(max_length=40)
    campaign_id = fields.CharField(max_length=32, default="")
    payload = fields.TextField(description="the event's `data`, JSON")
    created_at = fields.DatetimeField()
    fanned_out = fields.BooleanField(default=False)

    class Meta:
        table = "webhook_events"
        indexes = (Index(fields=("fanned_out", "id"), name="webhook_events_waiting"),)


class WebhookDelivery(Model):
    """One event owed to one webhook, and how its delivery attempts went."""

    id = fields.BigIntField(primary_key=True)
    webhook: fields.ForeignKeyRelation[Webhook] = fields.ForeignKeyField(
        "models.Webhook", related_name="deliveries", on_delete=fields.CASCADE
    )
    event: fields.ForeignKeyRelation[OutboxEvent] = fields.ForeignKeyField(
        "models.OutboxEvent", related_name="deliveries", on_delete=fields.CASCADE
    )
    status = fields.CharField(max_length=16, default="pending")
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField()
    last_attempt_at = fields.DatetimeField(null=True)
    last_status_code = fields.IntField(null=True)
    last_response = fields.CharField(max_length=500, default="")
    last_error = fields.CharField(max_length=300, default="")
    delivered_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "webhook_deliveries"
        unique_together = (("webhook", "event"),)
        indexes = (Index(fields=("status", "next_attempt_at"), name="webhook_deliveries_due"),)


# the waitlist's tables live in their own module; tortoise discovers models here
from domain.waitlist_models import (  # noqa: E402
    WaitlistEntry as WaitlistEntry,
)
from domain.waitlist_models import (  # noqa: E402
    WaitlistNotice as WaitlistNotice,
)
from domain.waitlist_models import (  # noqa: E402
    WaitlistRestock as WaitlistRestock,
)
