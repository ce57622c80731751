"""The streaming XLSX writer behind the report: what it writes reads back exactly."""

from __future__ import annotations

import io
import zipfile

from openpyxl import load_workbook

from bot.tracking.xlsx_stream import XlsxStream


def test_values_read_back_exactly_and_text_is_never_a_formula() -> None:
    book = XlsxStream()
    sheet = book.sheet("Tổng hợp", {0: 12, 1: 30})
    sheet.header(["Mã", "Họ và tên", "Số", "Tỷ lệ"])
    sheet.append(["NV001", 'Nguyễn Thị <Lan> & "Hoa"', 12, 50.5])
    sheet.append(["=1+1", "  khoảng trắng ", None, ""])
    sheet.append(["a\x01b\x1fc", "dòng\nmới", True, 0])
    other = book.sheet("Chưa đạt")
    other.append(["x"] * 30)
    data = book.close()
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["Tổng hợp", "Chưa đạt"]
    ws = wb["Tổng hợp"]
    rows = [tuple(c.value for c in row) for row in ws.iter_rows()]
    assert rows[0] == ("Mã", "Họ và tên", "Số", "Tỷ lệ")
    assert ws["A1"].font.b and not ws["A2"].font.b
    assert rows[1] == ("NV001", 'Nguyễn Thị <Lan> & "Hoa"', 12, 50.5)
    assert rows[2][:2] == ("=1+1", "  khoảng trắng ") and ws["A3"].data_type == "s"
    assert rows[3][:4] == ("abc", "dòng\nmới", True, 0)
    assert wb["Chưa đạt"]["AD1"].value == "x"
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.testzip() is None
        assert "<f>" not in z.read("xl/worksheets/sheet1.xml").decode()
