"""Scheduled campaigns open on time: `campaigns.start_announced_at` records the `starts_at`
whose opening the lifecycle job announced, so two runners announce a start once and a moved
start is announced again. Claims do not read it (`openness` opens a campaign at `starts_at`).
Existing rows start unmarked; the job announces only starts less than a day old.
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0014_waitlist_mail')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Campaign',
            name='start_announced_at',
            field=fields.DatetimeField(null=True, description='the starts_at whose opening the lifecycle job announced', auto_now=False, auto_now_add=False),
        ),
    ]
