from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0002_case_sensitive_codes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ChatPost',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('campaign', fields.ForeignKeyField('models.Campaign', source_field='campaign_id', db_constraint=True, to_field='id', related_name='posts', on_delete=OnDelete.CASCADE)),
                ('provider', fields.CharField(max_length=16)),
                ('guild_id', fields.CharField(description='server or group the post is in', max_length=32)),
                ('channel_id', fields.CharField(max_length=32)),
                ('message_id', fields.CharField(max_length=32)),
                ('posted_by', fields.CharField(default='', max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'chat_posts', 'app': 'models', 'unique_together': (('provider', 'channel_id', 'message_id'),), 'indexes': [Index(fields=['provider', 'guild_id'], name='chat_posts_by_guild')], 'pk_attr': 'id', 'table_description': 'A campaign card posted in a chat (a Discord drop message), kept to update its count.'},
            bases=['Model'],
        ),
    ]
