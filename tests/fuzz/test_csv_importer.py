"""The CSV importer under hostile files (hypothesis): random bytes, encodings, delimiters,
quotes, embedded newlines, huge fields, and 100,001 rows.

Properties: it never crashes (a whole-file problem is an `InvalidCSV`/`FileTooLarge` refusal
that imports nothing), never imports a code that breaks the code rules, and its counts always
add up: rows = imported + duplicates + invalid, and what is stored is what it says it imported.
The parser is fuzzed directly with shrinking; whole imports run on SQLite and MariaDB with
files drawn by the same strategies.
"""

from __future__ import annotations

import codecs
import csv
import io
import tempfile
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import FileTooLarge, InvalidCSV
from domain.models import Campaign, PromoCode
from domain.settings import Settings
from domain.uploads import Parser, Problem, Row, check_code
from tests import factories

CODE_CHARS = "ABCXYZabc0123456789-_"
HOSTILE_CHARS = CODE_CHARS + " ,;\t\"'\n\r=+@éß€\x00\u200b"

codes = st.one_of(
    st.text(CODE_CHARS, min_size=4, max_size=12),  # valid
    st.text(HOSTILE_CHARS, min_size=0, max_size=20),  # anything
    st.text(CODE_CHARS, min_size=65, max_size=80),  # too long
    st.just("=HYPERLINK(1)"),
)
platforms = st.sampled_from(["", "ios", "android", "web", "steam", "blackberry", "IOS "])


@st.composite
def csv_files(draw: Any) -> bytes:
    """A CSV file: header or not, some delimiter, quoted fields, newlines, an encoding."""
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    header = draw(st.sampled_from([["code"], ["code", "platform"], ["platform", "code"], None]))
    rows = draw(st.lists(st.tuples(codes, platforms), max_size=40))
    out = io.StringIO()
    writer = csv.writer(
        out,
        delimiter=delimiter,
        quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])),
        lineterminator=draw(st.sampled_from(["\n", "\r\n"])),
    )
    if header:
        writer.writerow(header)
    for code, platform in rows:
        if header is None or header == ["code"]:
            writer.writerow([code])
        elif header == ["code", "platform"]:
            writer.writerow([code, platform])
        else:
            writer.writerow([platform, code])
    text = out.getvalue()
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16", "cp1252"]))
    return text.encode(encoding, errors="replace")


files = st.one_of(
    csv_files(),
    st.binary(max_size=600),
    st.text(HOSTILE_CHARS, max_size=400).map(str.encode),
)


def parse(data: bytes, platform: str = "universal") -> list[Row | Problem]:
    with tempfile.TemporaryFile() as handle:
        handle.write(data)
        handle.seek(0)
        return list(Parser(handle, platform).rows())


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=files, platform=st.sampled_from(["universal", "ios", "android"]))
def test_the_parser_never_crashes_and_never_lets_a_bad_code_through(
    data: bytes, platform: str
) -> None:
    try:
        items = parse(data, platform)
    except InvalidCSV:
        return  # a whole-file refusal, with its reason
    for item in items:
        if isinstance(item, Row):
            assert check_code(item.code) is None, item
            assert item.code == item.code.strip()
            assert item.platform in ("", "ios", "android", "web", "steam")
        else:
            assert item.line >= 1 and item.reason


@settings(max_examples=60, deadline=None)
@given(size=st.integers(min_value=64 * 1024 + 1, max_value=200_000), quoted=st.booleans())
def test_a_huge_field_is_a_reported_problem_not_a_crash(size: int, quoted: bool) -> None:
    field = "A" * size
    data = f"code\nGOOD0001\n{chr(34) + field + chr(34) if quoted else field}\nGOOD0002\n"
    items = parse(data.encode())
    rows = [i.code for i in items if isinstance(i, Row)]
    assert rows == ["GOOD0001", "GOOD0002"]
    assert any(isinstance(i, Problem) for i in items)


def _draw_files(n: int) -> list[bytes]:
    """`n` files drawn by the strategies above (imports are async; hypothesis drives sync)."""
    drawn: list[bytes] = []

    @settings(max_examples=n, deadline=None, suppress_health_check=list(HealthCheck))
    @given(data=files)
    def collect(data: bytes) -> None:
        drawn.append(data)

    collect()
    return drawn


async def _import(owner_id: int, cid: str, data: bytes, max_codes: int = 100_000) -> Any:
    return await factories.import_bytes(
        owner_id,
        cid,
        data,
        filename="fuzz.csv",
        upload_max_bytes=16 * 1024 * 1024,
        upload_max_codes=max_codes,
        upload_batch_size=7,  # small batches: many flushes, duplicates across batch boundaries
    )


async def test_imports_of_hostile_files_always_add_up(db: Settings) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id, platform="universal")
    pk = (await Campaign.get(public_id=c.id)).id
    stored = 0
    for data in _draw_files(120):
        try:
            report = await _import(dev.id, c.id, data)
        except (InvalidCSV, FileTooLarge):
            assert await PromoCode.filter(campaign_id=pk).count() == stored  # nothing changed
            continue
        assert report.rows == report.imported + report.duplicates + report.invalid, report
        stored += report.imported
        assert await PromoCode.filter(campaign_id=pk).count() == stored
        # importing the same file again adds nothing: everything valid is a duplicate now
        again = await _import(dev.id, c.id, data)
        assert again.imported == 0 and again.rows == again.duplicates + again.invalid
    stored_codes: list[str] = await PromoCode.filter(campaign_id=pk).values_list("code", flat=True)  # type: ignore[assignment]
    for code in stored_codes:
        assert check_code(code) is None, code
    assert stored > 0  # the strategies do produce importable files


async def test_100001_rows_import_100000_and_report_the_one_over_the_limit(db: Settings) -> None:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    data = ("code\n" + "".join(f"BULK{i:07d}\n" for i in range(100_001))).encode()
    report = await factories.import_bytes(
        dev.id,
        c.id,
        data,
        filename="big.csv",
        upload_max_bytes=16 * 1024 * 1024,
        upload_max_codes=100_000,
    )
    assert (report.rows, report.imported, report.duplicates, report.invalid) == (
        100_001,
        100_000,
        0,
        1,
    )
    assert report.errors[-1].line == 100_002 and "limit" in report.errors[-1].reason
    pk = (await Campaign.get(public_id=c.id)).id
    assert await PromoCode.filter(campaign_id=pk).count() == 100_000


def test_utf16_and_bom_files_are_refused_or_read_never_misread() -> None:
    """A UTF-16 file is binary to us (NUL bytes) and a BOM is skipped, not part of a code."""
    text = "code\nBOMS0001\n"
    assert [i.code for i in parse(codecs.BOM_UTF8 + text.encode()) if isinstance(i, Row)] == [
        "BOMS0001"
    ]
    try:
        items = parse(text.encode("utf-16"))
    except InvalidCSV:
        return
    assert not [i for i in items if isinstance(i, Row)]


async def test_a_file_with_old_mac_line_endings_is_refused_with_its_reason(db: Settings) -> None:
    """Found by the fuzzer: a bare CR in the first line used to escape as a csv.Error (a 500)."""
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    try:
        await _import(dev.id, c.id, b"code\rMACC0001\rMACC0002\r")
    except InvalidCSV as exc:
        assert "line endings" in exc.detail
    else:
        raise AssertionError("a CR-only file must be refused as a whole")
    assert await PromoCode.filter(campaign__public_id=c.id).count() == 0
