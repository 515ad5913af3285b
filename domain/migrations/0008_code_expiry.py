from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0007_web_sessions')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Campaign',
            name='code_ttl_days',
            field=fields.IntField(null=True, description='imported codes expire after this'),
        ),
        ops.AddField(
            model_name='Campaign',
            name='expiry_noticed_on',
            field=fields.DateField(null=True, description='last expiring-soon notice'),
        ),
        ops.AddField(
            model_name='PromoCode',
            name='expires_at',
            field=fields.DatetimeField(null=True, description='not handed out from then on', auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='ArchivedCode',
            name='status',
            field=fields.CharField(default='used', description='used or expired', max_length=16),
        ),
        ops.AddField(
            model_name='ArchivedCode',
            name='expires_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddIndex(
            model_name='PromoCode',
            index=Index(fields=['status', 'expires_at'], name='promo_by_expiry'),
        ),
    ]
