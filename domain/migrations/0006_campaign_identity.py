from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0005_used_at_index')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Campaign',
            name='identity',
            field=fields.CharField(default='anonymous', description='anonymous or verified (IdentityMode)', max_length=16),
        ),
    ]
