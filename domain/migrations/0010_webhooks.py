from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0009_job_runs')]

    initial = False

    operations = [
        ops.CreateModel(
            name='OutboxEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('event_id', fields.CharField(unique=True, max_length=40)),
                ('owner_id', fields.IntField()),
                ('name', fields.CharField(max_length=40)),
                ('campaign_id', fields.CharField(default='', max_length=32)),
                ('payload', fields.TextField(description="the event's `data`, JSON", unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('fanned_out', fields.BooleanField(default=False)),
            ],
            options={'table': 'webhook_events', 'app': 'models', 'indexes': [Index(fields=['fanned_out', 'id'], name='webhook_events_waiting')], 'pk_attr': 'id', 'table_description': 'An event written in the transaction of the change it reports (the outbox).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Webhook',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('public_id', fields.CharField(unique=True, max_length=32)),
                ('owner', fields.ForeignKeyField('models.Developer', source_field='owner_id', db_constraint=True, to_field='id', related_name='webhooks', on_delete=OnDelete.CASCADE)),
                ('url', fields.CharField(max_length=2000)),
                ('description', fields.CharField(default='', max_length=200)),
                ('events', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('secret', fields.CharField(description='whsec_<base64>: signs deliveries', max_length=100)),
                ('active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'webhooks', 'app': 'models', 'indexes': [Index(fields=['owner_id', 'active'], name='webhooks_by_owner')], 'pk_attr': 'id', 'table_description': "A developer's endpoint for events. `events` maps each subscribed event name to the time"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WebhookDelivery',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('webhook', fields.ForeignKeyField('models.Webhook', source_field='webhook_id', db_constraint=True, to_field='id', related_name='deliveries', on_delete=OnDelete.CASCADE)),
                ('event', fields.ForeignKeyField('models.OutboxEvent', source_field='event_id', db_constraint=True, to_field='id', related_name='deliveries', on_delete=OnDelete.CASCADE)),
                ('status', fields.CharField(default='pending', max_length=16)),
                ('attempts', fields.IntField(default=0)),
                ('next_attempt_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('last_attempt_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_status_code', fields.IntField(null=True)),
                ('last_response', fields.CharField(default='', max_length=500)),
                ('last_error', fields.CharField(default='', max_length=300)),
                ('delivered_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'webhook_deliveries', 'app': 'models', 'unique_together': (('webhook', 'event'),), 'indexes': [Index(fields=['status', 'next_attempt_at'], name='webhook_deliveries_due')], 'pk_attr': 'id', 'table_description': 'One event owed to one webhook, and how its delivery attempts went.'},
            bases=['Model'],
        ),
    ]
