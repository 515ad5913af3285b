"""Log lines that input cannot forge: control characters are escaped before any formatter.

A campaign id, a file name or a user identifier may carry `\\n`, `\\r`, ANSI escapes or bidi
overrides; written raw, `%0A` in a URL became a second, made-up log line. `EscapeControls` is
a `logging.Filter` that renders the record's message once, escapes every control character
in it (`\\n` becomes the two characters `\\` `n`), and hands any formatter (plain text, JSON)
the safe text. domain/adapters/logs.py puts it on the handler every process logs through.
"""

from __future__ import annotations

import logging

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_table() -> dict[int, str]:
    # C0 and C1 controls and DEL, the Unicode line and paragraph separators, bidi controls
    codes = [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029, *range(0x202A, 0x202F)]
    codes += range(0x2066, 0x206A)
    return {
        code: _NAMED.get(chr(code)) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        for code in codes
    }


ESCAPES = _escape_table()


def escape_controls(text: str) -> str:
    """`text` with control, line-separator and bidi characters written as escapes."""
    return text.translate(ESCAPES)


class EscapeControls(logging.Filter):
    """Escapes control characters in a record's rendered message (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True  # a broken format string is the formatter's to report
        safe = escape_controls(message)
        if safe != message or record.args:
            record.msg, record.args = safe, None
        return True


ESCAPING = EscapeControls()
