from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0003_discord_chat_posts')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Upload',
            name='expected_rows',
            field=fields.IntField(null=True, description='lines in the file (progress total)'),
        ),
    ]
