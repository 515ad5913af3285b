"""Log lines input cannot forge: the escaping filter (domain/adapters/log_escape.py) on the handler
every codedrop process logs through (domain/adapters/logs.py), in text and in JSON."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from domain.adapters import logs
from domain.settings import Settings


def _configure(out: io.StringIO, log_format: str) -> logging.Handler:
    settings = Settings(_env_file=None, environment="test", log_format=log_format)  # type: ignore[call-arg]
    return logs.configure(settings, stream=out)


@pytest.fixture
def root_output() -> Iterator[io.StringIO]:
    """What the root logger writes through codedrop's handler (short text format)."""
    out = io.StringIO()
    handler = _configure(out, "text")
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    try:
        yield out
    finally:
        logging.getLogger().removeHandler(handler)


def test_a_line_break_in_an_argument_cannot_start_a_forged_line(
    root_output: io.StringIO,
) -> None:
    campaign = "x\nINFO domain.claims: claim campaign=FORGED\r\x1b[2K\u202e"
    logging.getLogger("domain.claims").warning("claim campaign=%s", campaign)
    lines = root_output.getvalue().splitlines()
    assert lines == [
        "WARNING domain.claims: claim campaign=x\\nINFO domain.claims: claim campaign=FORGED"
        "\\r\\x1b[2K\\u202e"
    ]


def test_plain_text_and_other_scripts_pass_unchanged(root_output: io.StringIO) -> None:
    logging.getLogger("domain.claims").warning("name=%s count=%d", "Café 漢字 ok", 3)
    assert root_output.getvalue() == "WARNING domain.claims: name=Café 漢字 ok count=3\n"


def test_a_json_line_carries_the_escaped_message_and_stays_one_line() -> None:
    out = io.StringIO()
    handler = _configure(out, "json")
    try:
        logging.getLogger("domain.claims").warning("claim campaign=%s", "a\nFORGED")
    finally:
        logging.getLogger().removeHandler(handler)
    (line,) = out.getvalue().splitlines()
    assert json.loads(line)["message"] == "claim campaign=a\\nFORGED"
