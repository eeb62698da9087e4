"""Reading a roster file as trusts have them: CSV saved by Excel or an HR system, or `.xlsx`.

CSV comes in UTF-8 (with or without the byte-order mark Excel writes), UTF-16 ("Unicode text"),
or Windows-1252 (Excel's "CSV" on a Windows PC in the UK), separated by commas, semicolons or
tabs. A file that is none of these gets one line saying so, never a decoding traceback.
"""

from __future__ import annotations

import csv
import io

from bot.operator_errors import OperatorError

XLSX_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary .xls format

Row = tuple[int, list[str]]  # (line or spreadsheet row number, cells)


def read_rows(data: bytes) -> list[Row]:
    """Every non-blank row of the file with its line number (the header first)."""
    if data.startswith(XLSX_MAGIC):
        rows = _xlsx_rows(data)
    elif data.startswith(OLE2_MAGIC):
        raise OperatorError("this is an old .xls workbook: save it as .xlsx or CSV and import that")
    else:
        rows = _csv_rows(decode(data))
    return [(n, cells) for n, cells in rows if any(c for c in cells)]


def decode(data: bytes) -> str:
    """The file as text: UTF-16 by its BOM, else UTF-8, else Windows-1252."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise OperatorError(_NOT_A_ROSTER) from None
    if b"\x00" in data:
        raise OperatorError(_NOT_A_ROSTER)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        raise OperatorError(_NOT_A_ROSTER) from None


_NOT_A_ROSTER = "the file is neither CSV text (UTF-8, UTF-16 or Windows-1252) nor an .xlsx workbook"


def _csv_rows(text: str) -> list[Row]:
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows, start = [], 1
    try:
        for cells in reader:
            rows.append((start, [c.strip() for c in cells]))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise OperatorError(f"line {reader.line_num}: not valid CSV ({exc})") from None
    return rows


def _xlsx_rows(data: bytes) -> list[Row]:
    """The first worksheet's rows, numbered as Excel numbers them."""
    from zipfile import BadZipFile

    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (BadZipFile, KeyError, ValueError, OSError) as exc:
        raise OperatorError(f"not a readable .xlsx workbook ({exc})") from None
    try:
        sheet = book.worksheets[0]
        return [
            (n, [_cell_text(v) for v in values])
            for n, values in enumerate(sheet.iter_rows(values_only=True), start=1)
        ]
    finally:
        book.close()


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
