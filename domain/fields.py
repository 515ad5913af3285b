"""Column types of our own: text that identifies, compared byte for byte on every database.

MariaDB's default collation folds case, accents and trailing spaces (`'Alice' = 'alice '`,
`'é' = 'e'`), while SQLite compares bytes. Anything that identifies someone or something (a
claimant, an Idempotency-Key, a public id, a token hash) must mean the same on both, or two
people become one claimant on MariaDB only. `utf8mb4_bin` is not enough: MariaDB pads it with
spaces when comparing, so `'a' = 'a '` still holds; `utf8mb4_nopad_bin` compares the bytes.
"""

from __future__ import annotations

from tortoise import fields

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
