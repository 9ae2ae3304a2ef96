"""Dates as people write them: the formats a date cell may be in, and the one format a column
of them settles (`stocker.core.cells.infer_date_format` is the column-level entry).

`03/01/2023` is a date in two formats (day first, month first); `13/01/2023` in one. A column is
read in one format, chosen only when every date-like cell of it fits that format and no other
that reads a cell differently; anything else is a `CellFormatError` naming the candidates, so the
caller can ask for the format instead of guessing it. Pure: no pandas, database or clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date


class CellFormatError(ValueError):
    """The cells of a file fit no one format, or more than one: `option` names what settles it
    (``decimal``, ``thousands``, ``date_format``) and `choices` the values that would."""

    def __init__(self, message: str, option: str, choices: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.option = option
        self.choices = tuple(choices)


_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
_Y4, _Y2, _D, _M = r"(?P<y>\d{4})", r"(?P<y>\d{2})", r"(?P<d>\d{1,2})", r"(?P<m>\d{1,2})"
_B = r"(?P<b>[A-Za-z]{3,9})\.?"
_SEP = r"(?P<s>[-/. ])"
# strftime label ({s}: the cell's separator) -> the date part; a time part may follow.
_DATE_FORMS = {
    "%Y{s}%m{s}%d": rf"{_Y4}{_SEP}{_M}(?P=s){_D}",
    "%d{s}%m{s}%Y": rf"{_D}{_SEP}{_M}(?P=s){_Y4}",
    "%m{s}%d{s}%Y": rf"{_M}{_SEP}{_D}(?P=s){_Y4}",
    "%d{s}%m{s}%y": rf"{_D}{_SEP}{_M}(?P=s){_Y2}",
    "%m{s}%d{s}%y": rf"{_M}{_SEP}{_D}(?P=s){_Y2}",
    "%Y%m%d": r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})",
    "%d{s}%b{s}%Y": rf"{_D}(?P<s>[- ]){_B}(?P=s){_Y4}",
    "%b %d, %Y": rf"{_B} {_D},? {_Y4}",
}
_DATE_PATTERNS = {
    label: re.compile(rf"{pattern}(?P<rest>(?:[T ].*)?)") for label, pattern in _DATE_FORMS.items()
}
Reading = tuple[date, str]
"""A cell's date and what follows it (the time part, if any)."""


def _read_date(label: str, cell: str) -> tuple[str, Reading] | None:
    """(the format with the cell's separator, the reading) when the cell is a date in the form."""
    match = _DATE_PATTERNS[label].fullmatch(cell)
    if match is None:
        return None
    parts = match.groupdict()
    year = int(parts["y"])
    if len(parts["y"]) == 2:
        year += 1900 if year >= 69 else 2000  # strptime's %y
    if parts.get("b"):
        word = parts["b"].lower()
        month = _MONTHS.get(word[:3])
        if month is None or (len(word) > 3 and word not in _FULL_MONTHS):
            return None
    else:
        month = int(parts["m"])
    try:
        day = date(year, month, int(parts["d"]))
    except ValueError:
        return None
    return label.format(s=parts.get("s") or ""), (day, parts["rest"])


_FULL_MONTHS = {
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "sept", "october", "november", "december",
}  # fmt: skip


def date_readings(cells: Iterable[str]) -> dict[str, dict[str, Reading]]:
    """format -> {cell: reading} for every format each distinct cell can be read in."""
    readings: dict[str, dict[str, Reading]] = {}
    for cell in cells:
        for label in _DATE_FORMS:
            read = _read_date(label, cell)
            if read is not None:
                readings.setdefault(read[0], {})[cell] = read[1]
    return readings


def one_date_format(readings: dict[str, dict[str, Reading]]) -> str | None:
    """The one format every date-like cell fits (formats that read every cell alike count as
    one); None when no cell is a date in any; `CellFormatError` otherwise."""
    cells = {cell for read in readings.values() for cell in read}
    if not cells:
        return None
    fitting = [label for label, read in readings.items() if len(read) == len(cells)]
    if not fitting:
        ranked = sorted(readings, key=lambda label: -len(readings[label]))
        inside = next(iter(readings[ranked[0]]))
        outside = sorted(cells - set(readings[ranked[0]]))[0]
        other = next(label for label in ranked if outside in readings[label])
        raise CellFormatError(
            f"dates are written in more than one format (e.g. {inside!r} and {outside!r})",
            "date_format",
            (ranked[0], other),
        )
    for cell in sorted(cells):
        days = {readings[label][cell][0] for label in fitting}
        if len(days) > 1:
            spelled = " or ".join(f"{day.day} {day:%B %Y}" for day in sorted(days))
            raise CellFormatError(
                f"dates such as {cell!r} read two ways ({spelled}), and no date in the column "
                "settles which",
                "date_format",
                fitting,
            )
    return fitting[0]
