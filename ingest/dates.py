"""Find the date of a document, so that searches can be filtered by date range.

Order of preference (`document_date`):

1. The first full calendar date written on the document's first pages.
   Letters, reports, minutes and forms carry their date near the top
   ("Paris, le 1er février 2003"); only the first `HEAD_CHARS` characters are
   read, because a date further down is usually a cited event, not the date
   of the document.
2. Else the PDF creation date from the info dictionary (`pdf_metadata_date`):
   it is the date of the file, often a scan or a conversion years after the
   document was written, so it only comes second.
3. Else None.

Dates written in figures are read **day first** (12/03/1994 is 12 March):
the archives are French and British, where month-first never occurs. ISO
dates (1994-03-12) are year-month-day. Months may be written in French or
English, in full or abbreviated ("déc.", "sept.", "févr.", "Dec"), with or
without accents, in any case; "1er", "1st", "2nd", "3rd", "4th" and commas
are allowed.

Rejected: impossible dates (31/02/1994 is skipped and the scan goes on),
years outside 1900-2100, and figures glued to other figures or separators
("12/03/1994-117" is a reference number, not a date). Two-digit years
("12/03/94") are skipped entirely: the century cannot be told reliably in
archives that span the 20th and 21st centuries. So are dates without a day
("janvier 2021") or without a year ("le 20 juin").
"""

from __future__ import annotations

import datetime
import re
import unicodedata

HEAD_CHARS = 3000
MIN_YEAR, MAX_YEAR = 1900, 2100

# Folded (lower case, no accent) month names and abbreviations, January first.
_MONTH_NAMES = (
    "janvier janv jan january",
    "fevrier fevr fev february feb",
    "mars mar march",
    "avril avr april apr",
    "mai may",
    "juin june jun",
    "juillet juil july jul",
    "aout august aug",
    "septembre sept sep september",
    "octobre october oct",
    "novembre november nov",
    "decembre december dec",
)
MONTHS: dict[str, int] = {
    name: number for number, names in enumerate(_MONTH_NAMES, start=1) for name in names.split()
}

_MONTH = "(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\b\.?"
_DAY = r"(?<!\d)(?P<day>\d{1,2})"
_ORDINAL = r"(?:\s?(?:er|re|st|nd|rd|th))?"
_YEAR = r"(?P<year>\d{4})(?!\d)(?![/.-]\d)"
# Figures must not be glued to other figures: "112/03/1994", "12/03/1994-117".
_START = r"(?<!\d)(?<!\d[/.-])"

PATTERNS: list[re.Pattern[str]] = [
    # 1994-03-12
    re.compile(_START + r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})(?!\d)(?![/.-]\d)"),
    # 12/03/1994, 12.03.1994, 12-03-1994 (day first; one separator throughout)
    re.compile(_START + r"(?P<day>\d{1,2})(?P<sep>[/.-])(?P<month>\d{1,2})(?P=sep)" + _YEAR),
    # 12 mars 1994, 1er février 2003, 12 déc. 1994, 3rd of March, 1994
    re.compile(_DAY + _ORDINAL + r"\s+(?:of\s+)?" + _MONTH + r",?\s+" + _YEAR),
    # March 12, 1994 ; Dec. 3rd 1994
    re.compile(r"\b" + _MONTH + r"\s+" + _DAY + _ORDINAL + r",?\s+" + _YEAR),
]


def _fold(text: str) -> str:
    """Lower case, accents stripped, odd spaces and superscripts made plain (NFKD)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def _to_date(match: re.Match[str]) -> datetime.date | None:
    year = int(match["year"])
    month_text = match["month"]
    month = int(month_text) if month_text.isdigit() else MONTHS[month_text]
    if not MIN_YEAR <= year <= MAX_YEAR:
        return None
    try:
        return datetime.date(year, month, int(match["day"]))
    except ValueError:  # 31/02/1994, 12/13/1994
        return None


def find_date(text: str) -> datetime.date | None:
    """The first plausible calendar date written in `text` (French or English), or None.

    Figures are read day first; two-digit years are never read (see the module
    docstring). An impossible or out-of-range date is skipped and the scan goes
    on to the next candidate.
    """
    folded = _fold(text)
    candidates = sorted(
        (match for pattern in PATTERNS for match in pattern.finditer(folded)),
        key=lambda match: match.start(),
    )
    for match in candidates:
        date = _to_date(match)
        if date is not None:
            return date
    return None


_PDF_DATE = re.compile(r"\s*(?:D:)?(?P<year>\d{4})(?:(?P<month>\d{2})(?P<day>\d{2})?)?")
_ISO_DATE = re.compile(r"\s*(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})")


def pdf_metadata_date(value: str | None) -> datetime.date | None:
    """A PDF info-dictionary date as a date, or None.

    Reads "D:19940312103000+01'00'", "D:1994" and also plain "1994-03-12".
    A missing month or day counts as 01 (PDF 1.7, 7.9.4); the time and the
    time zone are ignored. Malformed values and years outside 1900-2100 give
    None.
    """
    if not value:
        return None
    match = _ISO_DATE.match(value) or _PDF_DATE.match(value)
    if match is None:
        return None
    year = int(match["year"])
    if not MIN_YEAR <= year <= MAX_YEAR:
        return None
    try:
        return datetime.date(year, int(match["month"] or 1), int(match["day"] or 1))
    except ValueError:
        return None


def document_date(first_pages_text: str, metadata_date: str | None = None) -> datetime.date | None:
    """A document's date: the first date written on its first pages, else the PDF creation date.

    Letters, reports and forms carry their date near the top, so only the
    first `HEAD_CHARS` characters of `first_pages_text` are read.
    `metadata_date` is the info dictionary's /CreationDate (see
    `pdf_metadata_date`). None when neither gives a date.
    """
    return find_date(first_pages_text[:HEAD_CHARS]) or pdf_metadata_date(metadata_date)
