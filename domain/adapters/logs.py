"""How every codedrop process writes its log: text or one JSON object a line
(`CODEDROP_LOG_FORMAT`), each line carrying the id of the HTTP request it belongs to.

One handler on the root logger holds a filter (adds `request_id` to every record) and a
formatter; other filters (e.g. one escaping control characters) go on the same handler.
The request id itself is set by the API's request middleware (`api/requests.py`) in
`REQUEST_ID`, a context variable, so every line logged while a request is served, in any
module, carries it.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

from domain.adapters.log_escape import ESCAPING
from domain.settings import Settings

REQUEST_ID: ContextVar[str | None] = ContextVar("codedrop_request_id", default=None)
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s"
QUIET = ("tortoise", "aiosqlite", "aiomysql", "apscheduler.scheduler", "apscheduler.executors")


class RequestIdFilter(logging.Filter):
    """Puts the current request's id (or `-`) on every record as `request_id`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request id, extra `http`
    fields of the access log, and the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id and request_id != "-":
            data["request_id"] = request_id
        http = getattr(record, "http", None)
        if http is not None:
            data["http"] = http
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            data["exception"] = record.exc_text
        return json.dumps(data, default=str, ensure_ascii=False)


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def configure(settings: Settings, stream: IO[str] | None = None) -> logging.Handler:
    """Install (or replace) codedrop's handler on the root logger (to stderr); the handler."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "codedrop", False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.codedrop = True  # type: ignore[attr-defined]
    handler.addFilter(RequestIdFilter())
    handler.addFilter(ESCAPING)  # input never forges a line, in text or JSON
    handler.setFormatter(formatter(settings.log_format))
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler
