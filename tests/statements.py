"""The SQL statements a piece of code sends, as the database driver sends them (tortoise logs
each one at DEBUG on `tortoise.db_client`)."""

from __future__ import annotations

import logging
import re

WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
CAMPAIGN_ROW = re.compile(r"FROM [`\"]?CAMPAIGNS[`\"]? .*PUBLIC_ID")


class Statements(logging.Handler):
    """Every SQL statement the driver sends while installed."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.sent: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.sent.append(record.getMessage().lstrip().upper())

    def campaign_rows(self) -> int:
        return sum(1 for s in self.sent if CAMPAIGN_ROW.search(s))

    def writes(self) -> list[str]:
        return [s for s in self.sent if s.startswith(WRITES)]
