"""The waitlist writes back: e-mail confirmation, unsubscribe keys, restocks and notices.

`waitlist` gains the double opt-in columns (`confirm_hash`: the SHA-256 of the confirmation
token, byte-exact; `confirm_expires_at`, `confirm_sent_at`, `confirmed_at`) and `mail_key`
(the unsubscribe token every mail carries, byte-exact). `waitlist_restocks` records each time
a campaign with confirmed waiters became claimable again, `waitlist_notices` each notice owed
to one waiter for one restock (unique per pair). Both cascade from their campaign and entry.
Addresses joined before this migration are unconfirmed: they get no mail until they join
again and confirm.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from domain.fields import ExactCharField
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0013_exact_team_and_webhook_ids')]

    initial = False

    operations = [
        ops.CreateModel(
            name='WaitlistRestock',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('campaign', fields.ForeignKeyField('models.Campaign', source_field='campaign_id', db_constraint=True, to_field='id', related_name='restocks', on_delete=OnDelete.CASCADE)),
                ('seq', fields.IntField()),
                ('opened_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'waitlist_restocks', 'app': 'models', 'unique_together': (('campaign', 'seq'),), 'pk_attr': 'id', 'table_description': 'One time a campaign with confirmed e-mail waiters became claimable again.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WaitlistNotice',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('entry', fields.ForeignKeyField('models.WaitlistEntry', source_field='entry_id', db_constraint=True, to_field='id', related_name='notices', on_delete=OnDelete.CASCADE)),
                ('restock', fields.ForeignKeyField('models.WaitlistRestock', source_field='restock_id', db_constraint=True, to_field='id', related_name='notices', on_delete=OnDelete.CASCADE)),
                ('status', fields.CharField(default='pending', max_length=16)),
                ('attempts', fields.IntField(default=0)),
                ('next_attempt_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('last_attempt_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_error', fields.CharField(default='', max_length=300)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'waitlist_notices', 'app': 'models', 'unique_together': (('entry', 'restock'),), 'indexes': [Index(fields=['status', 'next_attempt_at'], name='waitlist_notices_due')], 'pk_attr': 'id', 'table_description': 'The restock notice owed to one waiter for one restock.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='WaitlistEntry',
            name='confirm_expires_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='WaitlistEntry',
            name='confirm_hash',
            field=ExactCharField(null=True, unique=True, max_length=64),
        ),
        ops.AddField(
            model_name='WaitlistEntry',
            name='confirm_sent_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='WaitlistEntry',
            name='confirmed_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='WaitlistEntry',
            name='mail_key',
            field=ExactCharField(null=True, unique=True, max_length=43),
        ),
    ]
