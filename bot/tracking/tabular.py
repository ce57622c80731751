"""Read CSV and XLSX tables whose header row is somewhere near the top.

Real rosters start with a letterhead, a merged title row or two, then the
header ("STT | Mã NV | Họ và tên | ..."). We pick the first row among the top
fifteen that names the most known columns, and match headers by folded text so
"Họ và tên", "HỌ VÀ TÊN " and "ho va ten" are the same column.
"""

from __future__ import annotations

import codecs
import csv
import io
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.errors import UserError
from bot.text import normalize_name

SUFFIXES = frozenset({".csv", ".xlsx", ".xlsm"})
HEADER_SCAN_ROWS = 15


@dataclass
class Table:
    """Rows as {field: cell text}, each with its 1-based row number in the file."""

    header_row: int
    fields: list[str]
    rows: list[tuple[int, dict[str, str]]]


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "strftime"):
        return value.strftime("%d/%m/%Y")
    return unicodedata.normalize("NFC", " ".join(str(value).split()))


def decode_text(data: bytes) -> str:
    """Text of a CSV file saved by whatever the unit had: UTF-8 with or without
    BOM, UTF-16 (Excel's "Unicode text"), or Windows-1258 (Vietnamese ANSI).

    Windows-1258 writes tones as combining marks; the result is NFC so that
    "Nguyễn" from any of them is the same string in the database.
    """
    if data.startswith(codecs.BOM_UTF8):
        text = data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = data.decode("utf-16", errors="replace")
    elif len(data) >= 4 and data[1:40:2].count(0) > 10:
        text = data.decode("utf-16-le", errors="replace")
    elif len(data) >= 4 and data[0:40:2].count(0) > 10:
        text = data.decode("utf-16-be", errors="replace")
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            try:
                text = data.decode("cp1258")
            except UnicodeDecodeError:
                text = data.decode("latin-1")
    return unicodedata.normalize("NFC", text.replace("\x00", ""))


def _raw_rows(path: Path) -> Iterator[list[str]]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        text = decode_text(path.read_bytes())
        sample = text[:4096]
        try:
            dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, ",;\t")
        except csv.Error:
            dialect = csv.excel
        try:
            for row in csv.reader(io.StringIO(text, newline=""), dialect):
                yield [_cell_text(c) for c in row]
        except csv.Error as exc:
            raise UserError(
                f"Không đọc được tệp CSV “{path.name}”: {exc}.",
                detail=f"csv error in {path}: {exc}",
            ) from exc
    elif suffix in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        try:
            wb = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # zip errors, bad XML: the file is not a workbook
            raise UserError(
                f"Không đọc được tệp Excel “{path.name}”: tệp hỏng hoặc không phải .xlsx.",
                detail=f"cannot open workbook {path}: {exc}",
            ) from exc
        try:
            sheet = wb.active
            if sheet is None:
                return
            for row in sheet.iter_rows(values_only=True):
                yield [_cell_text(c) for c in row]
        finally:
            wb.close()
    else:
        raise UserError(f"Chỉ nhận tệp .csv hoặc .xlsx (nhận được “{path.name}”).")


def read_table(path: Path, aliases: dict[str, tuple[str, ...]], required: set[str]) -> Table:
    """Find the header row and map each column to a field by its aliases."""
    keyed = {normalize_name(a): field for field, names in aliases.items() for a in names}
    rows = list(_raw_rows(path))
    best: tuple[int, dict[int, str]] | None = None
    for index, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        mapping: dict[int, str] = {}
        for col, cell in enumerate(row):
            field = keyed.get(normalize_name(cell))
            if field and field not in mapping.values():
                mapping[col] = field
        if mapping and (best is None or len(mapping) > len(best[1])):
            best = (index, mapping)
    if best is None or not required <= set(best[1].values()):
        missing = required - set(best[1].values()) if best else required
        names = ", ".join(f"“{aliases[f][0]}”" for f in sorted(missing))
        raise UserError(
            f"Không tìm thấy dòng tiêu đề với các cột {names} trong “{path.name}”.",
            detail=f"header not found in {path}; missing {sorted(missing)}",
        )
    header_index, mapping = best
    table = Table(header_row=header_index + 1, fields=list(mapping.values()), rows=[])
    for index in range(header_index + 1, len(rows)):
        row = rows[index]
        record = {field: row[col] if col < len(row) else "" for col, field in mapping.items()}
        if any(record.values()):
            table.rows.append((index + 1, record))
    return table
