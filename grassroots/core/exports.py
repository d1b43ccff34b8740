"""Values written into spreadsheets that people open (exports, error reports, templates).

A cell whose text starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return, which some
programs strip before looking) is read by Excel, WPS and LibreOffice as a formula: a name typed into a
form as ``=HYPERLINK("http://…", "点击")`` would run when a leader opens the export (CSV/formula
injection, OWASP). :func:`safe_cell` prefixes such text with an apostrophe, which spreadsheet programs
show as plain text. Numbers, dates and ``None`` pass unchanged: only text can carry a formula.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

#: First characters that make a spreadsheet program treat a cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """The value to write into a cell: text that could run as a formula gets a leading apostrophe.

    Idempotent on what it returns (an escaped text starts with an apostrophe, never again with a
    formula character), so escaping twice changes nothing more.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    """:func:`safe_cell` applied to every value of a row."""
    return [safe_cell(value) for value in values]


__all__ = ["FORMULA_STARTS", "safe_cell", "safe_row"]
