"""The interface's words: every French label has its English one, every state a label,
and numbers and dates follow the chosen locale."""

from __future__ import annotations

from datetime import date, datetime

from ingest.ledger import STATES
from ingest.pipeline import BatchReport
from ui.i18n import _EN, _FR, Texts


def test_every_french_label_has_an_english_one() -> None:
    missing = set(_FR) - set(_EN) - {"title"}
    assert not missing, sorted(missing)
    assert not set(_EN) - set(_FR)  # no English label without its French original


def test_every_ledger_and_batch_state_has_a_label_in_both_languages() -> None:
    states = set(STATES) | set(BatchReport().to_dict()["totals"])
    for language in ("fr", "en"):
        t = Texts(language)
        for state in states:
            assert t(f"state.{state}")


def test_numbers_and_dates_follow_the_locale() -> None:
    fr, en = Texts("fr"), Texts("en")
    assert fr.number(1234567.891, 2) == "1\u202f234\u202f567,89"
    assert en.number(1234567.891, 2) == "1,234,567.89"
    assert fr.date(date(1914, 8, 3)) == "03/08/1914"
    assert en.date(date(1914, 8, 3)) == "1914-08-03"
    assert fr.datetime(datetime(2026, 11, 26, 9, 5)) == "26/11/2026 09:05"
    assert Texts("de").language == "fr"  # an unknown language falls back to French


def test_labels_take_their_values() -> None:
    assert Texts("fr")("search.results", n=3) == "3 résultats"
    assert Texts("en")("audit.ok", n="12") == "Audit trail intact: 12 records"
