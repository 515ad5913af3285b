"""Reading an uploaded code file: the CSV/one-code-per-line parser and the spooling of an
incoming stream to a temporary file.

`Parser` reads a spooled file line by line (never the whole file in memory) and yields a `Row`
for each acceptable code and a `Problem` (with its 1-based line number) for each refused one;
`spool` copies a stream to disk, refusing it past a byte limit; `sniff_binary` refuses an empty
or binary file before any row is imported. Nothing here touches the database.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import AsyncIterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from domain.errors import FileTooLarge, InvalidCSV, UnknownPlatform
from domain.expiry import parse_expiry
from domain.values import (
    CodeStatus,
    Platform,
    parse_platform,
)

AVAILABLE = CodeStatus.AVAILABLE.value
CODE_RE = re.compile(r"^[A-Za-z0-9_-]+$")
MIN_LEN, MAX_LEN = 4, 64
MAX_METADATA = 1024
MAX_PROBLEMS = 100
DUPLICATE_IN_FILE = "duplicate of an earlier line"
DUPLICATE_IN_CAMPAIGN = "already in the campaign"
MAX_LINE_BYTES = 64 * 1024
MAX_COLUMNS = 100
CODE_HEADERS = {"code", "codes", "promo_code", "promocode", "promo code", "key", "coupon"}
EXPIRY_HEADERS = {"expires_at", "expires", "expiry", "expires at", "expiration"}
csv.field_size_limit(MAX_LINE_BYTES)


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    code: str
    platform: str
    metadata: str | None
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    line: int
    reason: str
    value: str | None = None


def _short(value: str, limit: int = 40) -> str:
    return value if len(value) <= limit else value[:limit] + "…"


def _delimiters(raw: bytes) -> int:
    return max(raw.count(b","), raw.count(b";"), raw.count(b"\t"))


def check_code(raw: str) -> str | None:
    """Why a code is refused, or None when it is fine."""
    code = raw.strip()
    if not code:
        return "empty code"
    if len(code) < MIN_LEN:
        return f"code too short ({len(code)} characters, at least {MIN_LEN})"
    if len(code) > MAX_LEN:
        return f"code too long ({len(code)} characters, at most {MAX_LEN})"
    if not CODE_RE.match(code):
        bad = next(ch for ch in code if not (ch.isascii() and (ch.isalnum() or ch in "-_")))
        return f"character {bad!r} not allowed (letters, digits, '-' and '_' only)"
    return None


class Parser:
    """Reads a spooled upload and yields `Row`s and `Problem`s with 1-based line numbers."""

    def __init__(self, handle: IO[bytes], campaign_platform: str) -> None:
        self.handle = handle
        self.campaign_platform = campaign_platform
        self.line = 0
        self.format_known = False  # until the first line with content decided it

    def _raw_lines(self) -> Iterator[tuple[bytes | None, int, int]]:
        """(line, its length, its delimiters) per line; a line over `MAX_LINE_BYTES` comes as
        None and is skipped a bounded piece at a time, so no line is ever held whole."""
        while True:
            raw = self.handle.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            if len(raw) <= MAX_LINE_BYTES or raw.endswith(b"\n"):
                yield raw, len(raw), 0
                continue
            length, delimiters = len(raw), _delimiters(raw)
            while not raw.endswith(b"\n"):
                raw = self.handle.readline(MAX_LINE_BYTES + 1)
                if not raw:
                    break
                length += len(raw)
                delimiters += _delimiters(raw)
            yield None, length, delimiters

    def _lines(self) -> Iterator[str]:
        """Decoded lines; a line that is not UTF-8 or too long becomes a problem, not a crash."""
        first = True
        for raw, length, delimiters in self._raw_lines():
            self.line += 1
            if raw is None:
                if not self.format_known and delimiters + 1 > MAX_COLUMNS:
                    raise InvalidCSV(
                        f"Line {self.line}: a header of {delimiters + 1:,} columns (at most"
                        f" {MAX_COLUMNS}).",
                        line=self.line,
                    )
                self._bad_lines.append(
                    Problem(
                        self.line, f"line too long ({length:,} bytes, at most {MAX_LINE_BYTES:,})"
                    )
                )
                yield ""
                continue
            if first:
                raw = raw.removeprefix(codecs.BOM_UTF8)
                first = False
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                self._bad_lines.append(Problem(self.line, "not UTF-8 text"))
                yield ""
                continue
            yield text

    def rows(self) -> Iterator[Row | Problem]:
        """Every row and problem of the file, in line order.

        One generator over one pass of the file, kept whole (over 60 lines) because its two
        halves share the pass's state: the first non-empty line decides the delimiter and
        the column positions the rest is read with, and the unreadable lines `_lines` sets
        aside are reported in order from either half.
        """
        self._bad_lines: list[Problem] = []
        lines = self._lines()
        delimiter = ","
        code_at, platform_at, metadata_at = 0, -1, -1
        self.expires_at = -1
        # the first non-empty line decides the format; lines that could not be read before it
        # are reported, and a file made only of such lines is refused for its first one
        unreadable: Problem | None = None
        for text in lines:
            if self._bad_lines:
                unreadable = unreadable or self._bad_lines[0]
                yield from self._drain()
                continue
            if not text.strip():
                continue
            self.format_known = True
            delimiter = max(",;\t", key=text.count) if any(d in text for d in ",;\t") else ","
            try:
                fields = next(csv.reader([text], delimiter=delimiter))
            except csv.Error as exc:
                # e.g. a bare CR inside the first line (old Mac line endings): refuse the
                # file with the reason instead of failing the request
                raise InvalidCSV(
                    f"Line {self.line}: unreadable CSV ({exc}); save the file with Windows or"
                    " Unix line endings.",
                    line=self.line,
                ) from None
            if len(fields) > MAX_COLUMNS:
                raise InvalidCSV(
                    f"Line {self.line}: a header of {len(fields):,} columns (at most"
                    f" {MAX_COLUMNS}).",
                    line=self.line,
                )
            names = [f.strip().lower() for f in fields]
            found = [i for i, n in enumerate(names) if n in CODE_HEADERS]
            if found:
                code_at = found[0]
                platform_at = names.index("platform") if "platform" in names else -1
                metadata_at = names.index("metadata") if "metadata" in names else -1
                self.expires_at = next((i for i, n in enumerate(names) if n in EXPIRY_HEADERS), -1)
            elif len(fields) > 1:
                raise InvalidCSV(
                    f"Line {self.line}: no `code` column in the header (found: "
                    + ", ".join(_short(n, 20) for n in names[:10])
                    + "). Add a header row with a `code` column, or upload one code per line.",
                    line=self.line,
                )
            else:
                yield self._row(self.line, fields, 0, -1, -1)
            break
        else:
            if self._bad_lines:
                unreadable = unreadable or self._bad_lines[0]
            if unreadable is not None:
                raise InvalidCSV(
                    f"Line {unreadable.line}: {unreadable.reason}; no line of the file could be"
                    " read.",
                    line=unreadable.line,
                )
            raise InvalidCSV("The file has no codes (it is empty or blank).")

        reader = csv.reader(lines, delimiter=delimiter, strict=False)
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                yield Problem(self.line, f"unreadable CSV ({exc})")
                continue
            if self._bad_lines:
                yield from self._drain()
                continue
            if not fields or all(not f.strip() for f in fields):
                continue
            yield self._row(self.line, fields, code_at, platform_at, metadata_at)
        yield from self._drain()

    def _drain(self) -> Iterator[Problem]:
        bad, self._bad_lines = self._bad_lines, []
        yield from bad

    def _row(
        self, line: int, fields: list[str], code_at: int, platform_at: int, metadata_at: int
    ) -> Row | Problem:
        if code_at >= len(fields):
            return Problem(line, "missing code field")
        raw = fields[code_at]
        reason = check_code(raw)
        if reason:
            return Problem(line, reason, _short(raw.strip()))
        code = raw.strip()
        platform = ""
        if 0 <= platform_at < len(fields) and fields[platform_at].strip():
            try:
                parsed = parse_platform(fields[platform_at])
            except UnknownPlatform:
                return Problem(
                    line, f"unknown platform {_short(fields[platform_at].strip(), 20)!r}", code
                )
            if self.campaign_platform != Platform.UNIVERSAL:
                if parsed not in (Platform.UNIVERSAL, Platform(self.campaign_platform)):
                    return Problem(
                        line, f"platform {parsed} in a {self.campaign_platform} campaign", code
                    )
            elif parsed and parsed != Platform.UNIVERSAL:
                platform = parsed.value
        metadata = None
        if 0 <= metadata_at < len(fields) and fields[metadata_at].strip():
            metadata = fields[metadata_at].strip()
            if len(metadata) > MAX_METADATA:
                return Problem(line, f"metadata over {MAX_METADATA} characters", code)
        expires_at = None
        if 0 <= self.expires_at < len(fields) and fields[self.expires_at].strip():
            raw_expiry = fields[self.expires_at].strip()
            try:
                expires_at = parse_expiry(raw_expiry)
            except ValueError as exc:
                return Problem(
                    line,
                    f"expires_at {_short(raw_expiry, 30)!r}: {exc} (use e.g. 2027-01-31"
                    " or 2027-01-31T18:00:00Z)",
                    code,
                )
        return Row(line, code, platform, metadata, expires_at)


async def spool(chunks: AsyncIterable[bytes], *, max_bytes: int, into: IO[bytes]) -> int:
    """Copy an incoming stream to a temporary file, refusing it past `max_bytes`."""
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise FileTooLarge(
                f"The file is over the {max_bytes:,}-byte limit; split it or use the large-upload"
                " flow (POST /api/campaigns/{id}/uploads).",
                limit=max_bytes,
            )
        into.write(chunk)
    into.seek(0)
    return size


def sniff_binary(handle: IO[bytes], piece: int = 1 << 20) -> None:
    """Refuse an empty file, or one with a NUL byte anywhere (checked before any row is
    imported, so a binary tail never leaves half a file in the campaign)."""
    offset = 0
    while chunk := handle.read(piece):
        at = chunk.find(b"\x00")
        if at >= 0:
            handle.seek(0)
            raise InvalidCSV(
                f"The file looks binary (a NUL byte at offset {offset + at:,}); upload a CSV"
                " or a text file.",
            )
        offset += len(chunk)
    handle.seek(0)
    if offset == 0:
        raise InvalidCSV("The file is empty (0 bytes).")
