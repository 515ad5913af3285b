"""Identifiers added by webhooks, teams and the audit log compare byte for byte too.

0011 made every identifying column an `ExactCharField`; the webhook ids, webhook event ids,
invitation token hashes and the audit log's campaign id came in tables created beside it and
kept MariaDB's folding collation. An audit listing filtered by one campaign id, or a webhook
looked up by its public id, must not match an id that differs only in case. MySQL/MariaDB
only (`MODIFY COLUMN`); SQLite already compares bytes.
"""

from tortoise import migrations
from domain.fields import ExactCharField, ExactColumn


class Migration(migrations.Migration):
    dependencies = [('models', '0012_teams_audit')]

    initial = False

    operations = [
        ExactColumn(
            model_name='Webhook',
            name='public_id',
            field=ExactCharField(unique=True, max_length=32),
        ),
        ExactColumn(
            model_name='OutboxEvent',
            name='event_id',
            field=ExactCharField(unique=True, max_length=40),
        ),
        ExactColumn(
            model_name='Invite',
            name='token_hash',
            field=ExactCharField(unique=True, max_length=64),
        ),
        ExactColumn(
            model_name='AuditEntry',
            name='campaign_public_id',
            field=ExactCharField(default='', max_length=32),
        ),
    ]
