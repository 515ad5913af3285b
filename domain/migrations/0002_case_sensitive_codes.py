"""Codes are case-sensitive: on MySQL/MariaDB give the code columns a binary collation.

SQLite compares text byte for byte already, so this is a no-op there. Without it MariaDB's
default `utf8mb4_general_ci` would treat `abcd` and `ABCD` as the same code.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

COLUMNS = (("promo_codes", "code", False), ("claims", "code", False), ("archived_codes", "code", False))


async def use_binary_collation(apps, schema_editor):
    client = schema_editor.client
    if client.capabilities.dialect != "mysql":
        return
    for table, column, nullable in COLUMNS:
        null = "NULL" if nullable else "NOT NULL"
        await client.execute_script(
            f"ALTER TABLE `{table}` MODIFY `{column}` VARCHAR(64) "
            f"CHARACTER SET utf8mb4 COLLATE utf8mb4_bin {null}"
        )


class Migration(migrations.Migration):
    dependencies = [("models", "0001_initial")]

    operations = [ops.RunPython(use_binary_collation)]
