from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0008_code_expiry')]

    initial = False

    operations = [
        ops.CreateModel(
            name='JobRun',
            fields=[
                ('name', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('status', fields.CharField(description='ran or failed', max_length=16)),
                ('started_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('summary', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'job_runs', 'app': 'models', 'pk_attr': 'name', 'table_description': 'The last run of each scheduled job (what `codedrop jobs list` shows).'},
            bases=['Model'],
        ),
    ]
