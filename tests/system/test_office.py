"""Office files through the CLI with the network cut, each generated here: Word,
PowerPoint, Excel, their OpenDocument kin and their legacy forms (DOC, XLS, PPT, RTF,
saved by LibreOffice and converted back by it) are read, cited by page, slide or sheet;
a workbook's row is stored with its column names; a marking in a header or footer
classifies the document; bad Office files are quarantined with their reason and never
stop the batch."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from tests.conftest import add_user, files_by_name, network_attempts, run_vigie
from tests.officemaker import (
    make_docx,
    make_odp,
    make_ods,
    make_odt,
    make_pptx,
    make_xlsx,
    saved_as,
)
from vigie.contracts import Level

PUBLIC = {"VIGIE_USER": "public", "VIGIE_PASSWORD": "public-password"}


def _docm(source: Path, target: Path) -> None:
    """A macro-enabled copy of a Word file (its main part declared so, a VBA part added)."""
    with zipfile.ZipFile(source) as read, zipfile.ZipFile(target, "w") as write:
        for item in read.infolist():
            data = read.read(item.filename)
            if item.filename == "[Content_Types].xml":
                data = data.replace(
                    b"application/vnd.openxmlformats-officedocument.wordprocessingml.document."
                    b"main+xml",
                    b"application/vnd.ms-word.document.macroEnabled.main+xml",
                )
            write.writestr(item, data)
        write.writestr("word/vbaProject.bin", b'Sub AutoOpen(): Shell "calc": End Sub')


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("office")
    batch = root / "batch"
    batch.mkdir()
    make_docx(
        batch / "rapport.docx", None, "Rapport sur les phares",
        ["Le phare de Kéréon est ravitaillé en pétrole chaque trimestre.",
         "Le gardien chef du phare de la Jument se nomme Yves Le Gall."],
        page_break_before_last=True,
    )  # fmt: skip
    make_docx(batch / "consignes.docx", "SECRET", "Consignes",
              ["Le code d'accès du dépôt de Brest change chaque lundi."])  # fmt: skip
    make_xlsx(batch / "budgets.xlsx", {
        "Effectifs": [["Unité", "Hommes"], ["2e RIMa", 800]],
        "Budget": [["Section", "Année", "Crédits (francs)"],
                   ["Transmissions", 1985, 91000], ["Génie", 1986, 123456.0],
                   ["Santé", 1986, 77000]],
    })  # fmt: skip
    make_pptx(batch / "briefing.pptx", [
        ("Ordre du jour", ["Situation générale", "Moyens"]),
        ("Exercice Trident", ["Trois frégates appareillent de Toulon le 14 mars."]),
    ])  # fmt: skip
    make_odt(batch / "note.odt", "DIFFUSION RESTREINTE", "Note de service",
             ["Le sémaphore du cap Fréhel est relevé par la brigade de Saint-Malo."])  # fmt: skip
    make_ods(batch / "grades.ods", {"Personnel": [["Nom", "Grade"], ["Durand", "capitaine"],
                                                  ["Morvan", "enseigne de vaisseau"]]})  # fmt: skip
    zones = ["La zone nord est confiée à la frégate Aconit."]
    make_odp(batch / "plan.odp", [("Introduction", ["Contexte"]), ("Zones", zones)])
    registre = ["Le registre des macros est tenu par le service informatique."]
    source = make_docx(root / "source.docx", None, "Registre", registre)
    _docm(source, batch / "macros.docm")
    legacy = root / "legacy"
    legacy.mkdir()
    make_docx(legacy / "ancien.docx", "CONFIDENTIEL DÉFENSE", "Compte rendu de 1991",
              ["Le dépôt de munitions de Miramas a été inspecté le 4 juin 1991."])  # fmt: skip
    saved_as(legacy / "ancien.docx", batch / "ancien.doc")
    make_xlsx(legacy / "stocks.xlsx", {"Vivres": [["Magasin", "Rations"], ["Lorient", 5300],
                                                   ["Toulon", 8100]]})  # fmt: skip
    saved_as(legacy / "stocks.xlsx", batch / "stocks.xls")
    make_pptx(
        legacy / "expose.pptx",
        [
            ("Sommaire", ["Logistique"]),
            ("Ravitaillement", ["Le pétrolier Durance ravitaille l'escadre au large de Dakar."]),
        ],
    )
    saved_as(legacy / "expose.pptx", batch / "expose.ppt")
    make_docx(
        legacy / "lettre.docx",
        None,
        "Lettre au préfet maritime",
        ["La balise du plateau des Roches-Douvres est hors service depuis mardi."],
    )
    saved_as(legacy / "lettre.docx", batch / "lettre.rtf")
    days = [f"Journée {n} : la patrouille relève les balises du chenal et note l'état de la mer."
            for n in range(1, 100)]  # fmt: skip
    last = "Le sous-marin Casabianca fait surface au large de Bizerte."
    make_docx(legacy / "journal.docx", None, "Journal de bord", [*days, last])
    saved_as(legacy / "journal.docx", batch / "journal.doc")  # no page break recorded
    ole = bytes.fromhex("d0cf11e0a1b11ae1") + b"\0" * 504  # a compound file's header, cut
    (batch / "coupe.doc").write_bytes(ole)
    (batch / "vide.docx").write_bytes(b"")
    (batch / "abime.xlsx").write_bytes(b"PK\x03\x04 this is not a zip at all")
    with zipfile.ZipFile(batch / "bombe.docx", "w", zipfile.ZIP_DEFLATED) as bomb:
        bomb.writestr("[Content_Types].xml", "<Types/>")
        bomb.writestr("word/document.xml", b"\0" * (64 * 1024 * 1024))
    with zipfile.ZipFile(batch / "casse.docx", "w") as broken:
        broken.writestr("[Content_Types].xml", "<Types/>")
        broken.writestr("word/document.xml", "<w:document>not closed")
    home = root / "home"
    fed = run_vigie(["ingest", str(batch), "--level", "NON PROTÉGÉ", "--json"], home, models_dir)
    assert fed.returncode == 0, fed.stderr
    add_user(home, "public", "analyst", Level.NON_PROTEGE, (), "public-password")
    return home, files_by_name(json.loads(fed.stdout))


def search(home: Path, models_dir: Path, query: str, **env: str) -> list[dict]:
    found = run_vigie(["search", query, "--json", "--limit", "3"], home, models_dir, **env)
    assert found.returncode == 0, found.stderr
    return json.loads(found.stdout)["results"]


@pytest.mark.parametrize(
    ("query", "document", "where"),
    [
        ("gardien chef du phare de la Jument", "rapport.docx", "page 2"),
        ("crédits de la section Génie en 1986", "budgets.xlsx", "sheet 2"),
        ("frégates appareillent de Toulon", "briefing.pptx", "slide 2"),
        ("sémaphore du cap Fréhel", "note.odt", "page 1"),
        ("grade de Morvan", "grades.ods", "sheet 1"),
        ("zone nord confiée à la frégate Aconit", "plan.odp", "slide 2"),
        ("inspection du dépôt de munitions de Miramas", "ancien.doc", "page 1"),
        ("rations du magasin de Toulon", "stocks.xls", "sheet 1"),
        ("pétrolier Durance au large de Dakar", "expose.ppt", "slide 2"),
        ("balise du plateau des Roches-Douvres", "lettre.rtf", "page 1"),
        ("Journée 1 : la patrouille relève les balises", "journal.doc", "page 1"),
    ],
)
def test_each_format_is_found_where_it_says_it(
    ingested: tuple[Path, dict], models_dir: Path, query: str, document: str, where: str
) -> None:
    home, _ = ingested
    first = search(home, models_dir, query)[0]
    assert (first["document"], first["where"]) == (document, where), first


def test_a_workbook_row_is_stored_with_its_column_names(
    ingested: tuple[Path, dict], models_dir: Path
) -> None:
    home, _ = ingested
    first = search(home, models_dir, "Génie 1986")[0]
    assert "Section : Génie ; Année : 1986 ; Crédits (francs) : 123456" in first["text"], first
    asked = run_vigie(["ask", "Quels crédits la section Génie a-t-elle reçus en 1986 ?",
                       "--json"], home, models_dir)  # fmt: skip
    answer = json.loads(asked.stdout)
    cited = [c for c in answer["citations"] if c["cited"]]
    assert cited and cited[0]["document"] == "budgets.xlsx" and cited[0]["page"] == 2, answer
    assert "123" in answer["answer"].replace(" ", ""), answer["answer"]
    assert network_attempts(home) == []


def test_a_marking_in_a_header_or_footer_classifies_the_document(
    ingested: tuple[Path, dict], models_dir: Path
) -> None:
    home, files = ingested
    assert files["consignes.docx"]["level"] == "SECRET", files["consignes.docx"]
    assert files["note.odt"]["level"] == "DIFFUSION RESTREINTE", files["note.odt"]
    assert files["rapport.docx"]["level"] == "NON PROTÉGÉ"
    # The header of a legacy Word file, converted, is read as any other.
    assert files["ancien.doc"]["level"] == "SECRET", files["ancien.doc"]  # CONFIDENTIEL DÉFENSE
    hidden = search(home, models_dir, "code d'accès du dépôt de Brest", **PUBLIC)
    assert all(r["document"] not in ("consignes.docx", "note.odt") for r in hidden), hidden
    seen = search(home, models_dir, "code d'accès du dépôt de Brest")
    assert seen[0]["document"] == "consignes.docx" and seen[0]["level"] == "SECRET"


def test_bad_office_files_are_quarantined_with_their_reason(ingested: tuple[Path, dict]) -> None:
    _, files = ingested
    reasons = {name: files[name]["reason"] for name in
               ("vide.docx", "abime.xlsx", "bombe.docx", "casse.docx")}  # fmt: skip
    assert all(files[name]["state"] == "quarantined" for name in reasons), files
    assert "empty file" in reasons["vide.docx"]
    assert "zip bomb" in reasons["bombe.docx"]
    assert reasons["casse.docx"] and reasons["abime.xlsx"]
    # A macro-enabled file is read for its text; its macros are never run.
    assert files["macros.docm"]["state"] == "ingested", files["macros.docm"]


def test_a_long_document_without_page_breaks_is_cited_by_its_printed_page(
    ingested: tuple[Path, dict], models_dir: Path
) -> None:
    home, files = ingested
    assert files["journal.doc"]["pages"] >= 4, files["journal.doc"]
    first = search(home, models_dir, "sous-marin Casabianca au large de Bizerte")[0]
    assert first["document"] == "journal.doc", first
    assert first["page"] == files["journal.doc"]["pages"], first  # the last page


def test_a_legacy_file_is_converted_and_a_cut_one_quarantined(
    ingested: tuple[Path, dict],
) -> None:
    _, files = ingested
    for name in ("ancien.doc", "stocks.xls", "expose.ppt", "lettre.rtf"):
        assert files[name]["state"] == "ingested", files[name]
    assert files["coupe.doc"]["state"] == "quarantined", files["coupe.doc"]
    assert "corrupt compound (OLE2) file" in files["coupe.doc"]["reason"], files["coupe.doc"]
