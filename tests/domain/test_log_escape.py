"""Log lines input cannot forge: the escaping filter on every handler (domain/log_escape.py)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from domain import log_escape


@pytest.fixture
def root_output() -> Iterator[io.StringIO]:
    """What the root logger writes, through a handler installed like `codedrop` does."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    log_escape.install()
    try:
        yield out
    finally:
        root.removeHandler(handler)


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
