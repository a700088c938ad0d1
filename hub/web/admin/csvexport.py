"""CSV files the console writes, safe to open in a spreadsheet.

- Formula injection (CSV injection, https://owasp.org/www-community/attacks/CSV_Injection): a cell that
  starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is prefixed with ``'``, so Excel,
  LibreOffice and Google Sheets show it as text instead of running it (a recipient named
  ``=HYPERLINK("http://evil","x")``).
- The file starts with a UTF-8 byte order mark, so Excel reads it as UTF-8 (``Zażółć`` instead of
  ``ZaĹĽĂłĹ‚Ä‡``); other readers skip it.
- Written in chunks as rows come, so an export of any size keeps memory flat.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

BOM = "\ufeff"
#: A cell starting with one of these is read as a formula by some spreadsheet (OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MIMETYPE = "text/csv; charset=utf-8"


def safe_cell(value) -> str:
    """``value`` as CSV cell text (None -> empty), with ``'`` in front when it would start a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def stream(header: Iterable[str], records: Iterable[Iterable], chunk_chars: int = 64_000) -> Iterator[str]:
    """The CSV text of ``header`` and ``records`` (each an iterable of cell values, passed through
    :func:`safe_cell`), beginning with :data:`BOM`, yielded in chunks of about ``chunk_chars``."""
    buf = io.StringIO()
    out = csv.writer(buf)
    buf.write(BOM)
    out.writerow([safe_cell(h) for h in header])
    for record in records:
        out.writerow([safe_cell(v) for v in record])
        if buf.tell() > chunk_chars:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()
