from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0011_exact_identifiers')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AuditEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('actor_id', fields.IntField(null=True, description='the acting developer')),
                ('channel', fields.CharField(description='api, dashboard, bot, cli or system', max_length=16)),
                ('action', fields.CharField(max_length=48)),
                ('campaign_pk', fields.IntField(null=True)),
                ('campaign_public_id', fields.CharField(default='', max_length=32)),
                ('owner_id', fields.IntField(null=True, description='owner of the campaign at the time')),
                ('target', fields.CharField(default='', max_length=200)),
                ('detail', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'audit_log', 'app': 'models', 'indexes': [Index(fields=['campaign_pk', 'id'], name='audit_by_campaign'), Index(fields=['actor_id', 'id'], name='audit_by_actor'), Index(fields=['owner_id', 'id'], name='audit_by_owner')], 'pk_attr': 'id', 'table_description': 'One developer action: who, through which channel, when, on what. Never a full code or a'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CampaignMember',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('campaign', fields.ForeignKeyField('models.Campaign', source_field='campaign_id', db_constraint=True, to_field='id', related_name='members', on_delete=OnDelete.CASCADE)),
                ('developer', fields.ForeignKeyField('models.Developer', source_field='developer_id', db_constraint=True, to_field='id', related_name='memberships', on_delete=OnDelete.CASCADE)),
                ('role', fields.CharField(max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'campaign_members', 'app': 'models', 'unique_together': (('campaign', 'developer'),), 'pk_attr': 'id', 'table_description': 'A developer who shares a campaign with its owner, with a role (viewer, manager, owner).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Invite',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('campaign', fields.ForeignKeyField('models.Campaign', source_field='campaign_id', db_constraint=True, to_field='id', related_name='invites', on_delete=OnDelete.CASCADE)),
                ('role', fields.CharField(max_length=16)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('created_by_id', fields.IntField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('used_by_id', fields.IntField(null=True)),
            ],
            options={'table': 'campaign_invites', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A one-time invitation to a campaign with a role. Only the SHA-256 of the token is kept.'},
            bases=['Model'],
        ),
    ]
