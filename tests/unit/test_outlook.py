"""Outlook messages (ingest/outlook.py) written by tests/msgmaker.py: headers, date,
body and attachments read as an e-mail's; a compound file that is no message refused."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ingest.errors import UnreadableFile
from ingest.filetypes import sniff
from ingest.outlook import MSG, read_mail
from tests.msgmaker import compound_file, make_msg

SENT = dt.datetime(1986, 3, 12, 8, 30, tzinfo=dt.UTC)


def test_a_message_reads_as_an_email(tmp_path: Path) -> None:
    big = b"Ligne de l'annexe logistique.\n" * 400  # past the mini stream
    path = make_msg(tmp_path / "ordre.msg", "[SECRET] Ordre de mouvement",
                    ("Amiral Durand", "durand@marine.example"), "État-major", SENT,
                    "L'escadre appareille le 14 mars.\n\nDurand",
                    [("annexe.txt", big), ("../../evade.pdf", b"%PDF-1.4")])  # fmt: skip
    assert sniff(path) == MSG
    message = read_mail(path)
    assert message.subject == "[SECRET] Ordre de mouvement"
    assert message.sender == "Amiral Durand <durand@marine.example>"
    assert (message.recipients, message.date) == ("État-major", "1986-03-12")
    texts = [piece.text for piece in message.pieces]
    assert texts[0] == "SECRET\nOrdre de mouvement"  # the subject's marking, a line apart
    assert "Date : 12/03/1986 08:30 UTC" in texts[1]
    assert "L'escadre appareille le 14 mars." in texts
    assert message.attachments == [("annexe.txt", big), ("evade.pdf", b"%PDF-1.4")]


def test_a_compound_file_that_is_no_message_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "vide.msg"
    path.write_bytes(compound_file({"__substg1.0_1000001F": "corps".encode("utf-16-le")}))
    with pytest.raises(UnreadableFile, match="not an e-mail message"):
        read_mail(path)
    other = tmp_path / "autre.msg"
    other.write_bytes(compound_file({"Contents": b"rien"}))
    with pytest.raises(UnreadableFile, match="no Word, Excel, PowerPoint or Outlook file"):
        sniff(other)


def test_a_damaged_message_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "abime.msg"  # the subject a storage where a stream should be
    path.write_bytes(compound_file({"__substg1.0_0037001F/x": b"", "__substg1.0_0C1A001F": b""}))
    with pytest.raises(UnreadableFile, match="corrupt Outlook message"):
        read_mail(path)


def test_an_html_body_in_the_windows_code_page_is_read(tmp_path: Path) -> None:
    from ingest.parse import _use_installed_spacy_model

    _use_installed_spacy_model()  # as a parsing worker does: never a download
    html = "<html><body><p>La relève a eu lieu cet été.</p></body></html>".encode("cp1252")
    path = tmp_path / "releve.msg"
    path.write_bytes(compound_file({
        "__substg1.0_0037001F": "Relève".encode("utf-16-le"),
        "__substg1.0_10130102": html,
    }))  # fmt: skip
    texts = [piece.text for piece in read_mail(path).pieces]
    assert any("La relève a eu lieu cet été." in text for text in texts), texts
