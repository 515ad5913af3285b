"""Column types of our own: text that identifies, compared byte for byte on every database.

MariaDB's default collation folds case, accents and trailing spaces (`'Alice' = 'alice '`,
`'é' = 'e'`), while SQLite compares bytes. Anything that identifies someone or something (a
claimant, an Idempotency-Key, a public id, a token hash) must mean the same on both, or two
people become one claimant on MariaDB only. `utf8mb4_bin` is not enough: MariaDB pads it with
spaces when comparing, so `'a' = 'a '` still holds; `utf8mb4_nopad_bin` compares the bytes.
"""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.migrations import operations as ops

EXACT_COLLATION = "utf8mb4_nopad_bin"


class ExactCharField(fields.CharField):
    """A VARCHAR compared byte for byte: binary, no-pad collation on MySQL/MariaDB.

    SQLite already compares text byte for byte, so the column is a plain VARCHAR there; fresh
    schemas and migrated ones come out the same (`domain/migrations/0011_exact_identifiers.py`
    converts existing MariaDB columns).
    """

    class _db_mysql:
        def __init__(self, field: ExactCharField) -> None:
            self.field = field

        @property
        def SQL_TYPE(self) -> str:  # tortoise's attribute name
            return (
                f"VARCHAR({self.field.max_length}) CHARACTER SET utf8mb4 COLLATE {EXACT_COLLATION}"
            )


class ExactColumn(ops.AlterField):
    """The migration step that makes a column an `ExactCharField`: an AlterField whose SQL runs on MySQL/MariaDB only: one `MODIFY COLUMN` with the full
    definition (type, collation, nullability, default, comment), indexes kept. SQLite would
    rebuild the table for a type that is the same there. (tortoise's own MySQL alter_field
    follows its MODIFY with an `ALTER … TYPE` MariaDB does not parse, for custom SQL types.)"""

    async def database_forward(
        self, app_label: str, old_state: Any, new_state: Any, state_editor: Any = None
    ) -> None:
        if state_editor is None or state_editor.DIALECT != "mysql":
            return
        model = new_state.apps.get_model(f"{app_label}.{self.model_name}")
        field = model._meta.fields_map[self.name]
        table = state_editor._qualify_table_name(model._meta.db_table, model._meta.schema)
        await state_editor._run_sql(state_editor._build_modify_column_sql(model, field, table))

    async def database_backward(
        self, app_label: str, old_state: Any, new_state: Any, state_editor: Any = None
    ) -> None:
        raise NotImplementedError("identifiers are not folded back to a case-insensitive collation")
