from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0004_scheduler_upload_progress')]

    initial = False

    operations = [
        ops.RemoveIndex(
            model_name='PromoCode',
            name='promo_used_at',
            fields=None,
        ),
        ops.AddIndex(
            model_name='PromoCode',
            index=Index(fields=['used_at'], name='promo_by_used_at'),
        ),
    ]
