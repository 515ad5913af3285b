"""Identifiers compare byte for byte on MariaDB too (`utf8mb4_nopad_bin`), as on SQLite.

MariaDB's default collation made `Alice`, `alice` and `alice ` one claimant, `KEY-Q` and
`key-q` one Idempotency-Key, and `café` / `cafe` one value: two people shared a claim slot and
the second was refused (or looped until a RecursionError). Each column below becomes an
`ExactCharField` (domain/fields.py): on MySQL/MariaDB this migration rewrites the column with
the binary, no-pad collation (`ALTER TABLE … MODIFY COLUMN`, which rebuilds the table: plan
for it on large `promo_codes`/`claims` tables); on SQLite, which already compares bytes, it
changes nothing but the recorded state (no table is rebuilt).

Existing rows keep their values. A binary collation only tells apart values the old one
folded together, so no unique key can be broken by the conversion.

Claimant namespaces changed in the same release: anonymous API callers are `anon:<id>` now,
claim-page visitors stay `web:<cookie id>`. Rows written before by an anonymous API caller
say `web:<id>` exactly as a visitor's do, and nothing stored tells the two apart, so this
migration leaves every `web:` row as it is (rewriting them all to `anon:` would hand each
visitor's code to whoever names the visitor's id through the API, the hole being closed).
A visitor keeps the code their cookie names; an API caller from before is a new `anon:`
claimant and may receive one more code in a campaign it had claimed from.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from domain.fields import ExactCharField, ExactColumn


class Migration(migrations.Migration):
    dependencies = [('models', '0010_webhooks')]

    initial = False

    operations = [
        ExactColumn(
            model_name='ApiKey',
            name='key_hash',
            field=ExactCharField(unique=True, max_length=64),
        ),
        ExactColumn(
            model_name='ApiKey',
            name='prefix',
            field=ExactCharField(description='public part shown in listings', max_length=32),
        ),
        ExactColumn(
            model_name='ArchivedCode',
            name='claimant',
            field=ExactCharField(null=True, max_length=100),
        ),
        ExactColumn(
            model_name='ArchivedCode',
            name='code',
            field=ExactCharField(max_length=64),
        ),
        ExactColumn(
            model_name='Campaign',
            name='public_id',
            field=ExactCharField(unique=True, max_length=32),
        ),
        ExactColumn(
            model_name='ChatPost',
            name='channel_id',
            field=ExactCharField(max_length=32),
        ),
        ExactColumn(
            model_name='ChatPost',
            name='guild_id',
            field=ExactCharField(description='server or group the post is in', max_length=32),
        ),
        ExactColumn(
            model_name='ChatPost',
            name='message_id',
            field=ExactCharField(max_length=32),
        ),
        ExactColumn(
            model_name='Claim',
            name='claimant',
            field=ExactCharField(max_length=100),
        ),
        ExactColumn(
            model_name='Claim',
            name='code',
            field=ExactCharField(max_length=64),
        ),
        ExactColumn(
            model_name='Claim',
            name='idempotency_key',
            field=ExactCharField(null=True, max_length=128),
        ),
        ExactColumn(
            model_name='IdempotencyRecord',
            name='key',
            field=ExactCharField(max_length=128),
        ),
        ExactColumn(
            model_name='IdempotencyRecord',
            name='request_hash',
            field=ExactCharField(max_length=64),
        ),
        ExactColumn(
            model_name='IdempotencyRecord',
            name='scope',
            field=ExactCharField(max_length=100),
        ),
        ExactColumn(
            model_name='Identity',
            name='external_id',
            field=ExactCharField(max_length=64),
        ),
        ExactColumn(
            model_name='JobLease',
            name='name',
            field=ExactCharField(primary_key=True, unique=True, db_index=True, max_length=100),
        ),
        ExactColumn(
            model_name='JobLease',
            name='owner',
            field=ExactCharField(max_length=100),
        ),
        ExactColumn(
            model_name='LinkToken',
            name='token_hash',
            field=ExactCharField(unique=True, max_length=64),
        ),
        ExactColumn(
            model_name='PromoCode',
            name='claimant',
            field=ExactCharField(null=True, max_length=100),
        ),
        ExactColumn(
            model_name='PromoCode',
            name='code',
            field=ExactCharField(max_length=64),
        ),
        ExactColumn(
            model_name='Upload',
            name='public_id',
            field=ExactCharField(unique=True, max_length=32),
        ),
        ExactColumn(
            model_name='WaitlistEntry',
            name='claimant',
            field=ExactCharField(max_length=100),
        ),
        ExactColumn(
            model_name='WebSession',
            name='token_hash',
            field=ExactCharField(unique=True, max_length=64),
        ),
    ]
