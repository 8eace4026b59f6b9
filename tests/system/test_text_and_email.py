"""Text, Markdown, HTML and e-mail (`.eml`, and Outlook's `.msg` written here by
tests/msgmaker.py) through the CLI with the network cut: a text file's form feeds are its
pages; a banner line and an e-mail's subject are markings; a message's date is its
document's date; each attachment is a document of its own, with its own level,
"attached to" its message; an attachment's name never escapes its folder."""

from __future__ import annotations

import datetime as dt
import json
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.conftest import (
    add_user,
    files_by_name,
    network_attempts,
    run_vigie,
    signed_in_workspace,
)
from tests.msgmaker import make_msg
from tests.pdfmaker import make_text_pdf
from vigie.contracts import Level

READER = {"VIGIE_USER": "lecteur", "VIGIE_PASSWORD": "lecteur-password"}


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("texts")
    batch = root / "batch"
    batch.mkdir()
    (batch / "rapport.txt").write_text(
        "DIFFUSION RESTREINTE\n\nRapport mensuel de la base navale de Lorient.\n"
        "Les bassins sont en travaux depuis janvier.\n"
        "\fLe sous-marin Gymnote rentre de mission le 4 avril.\n",
        encoding="cp1252",  # as the old office machines wrote it
    )
    (batch / "inventaire.md").write_text(
        "# Inventaire du dépôt de Brest\n\nLe dépôt compte quarante torpilles d'exercice.\n",
        encoding="utf-8",
    )
    (batch / "page.html").write_text(
        "<html><head><link rel=stylesheet href='http://cdn.example.org/s.css'></head><body>"
        "<h1>Exercice Trident</h1><p>L'exercice Trident réunit trois frégates au large de "
        "Toulon.</p><img src='http://images.example.org/x.png'></body></html>",
        encoding="utf-8",
    )
    message = EmailMessage()
    message["From"] = "Amiral Durand <durand@marine.example>"
    message["To"] = "etat-major@marine.example"
    message["Date"] = "Wed, 12 Mar 1986 09:30:00 +0100"
    message["Subject"] = "[SECRET] Ordre de mouvement de l'escadre"
    message.set_content("L'escadre appareille de Toulon le 14 mars vers Djibouti.\n")
    note = make_text_pdf(
        root / "note.pdf",
        [
            [
                "NON PROTÉGÉ",
                "",
                "",
                "Liste des vivres embarqués sur le Clemenceau.",
                "",
                "NON PROTÉGÉ",
            ]
        ],
    )
    message.add_attachment(
        note.read_bytes(), maintype="application", subtype="pdf", filename="../../vivres.pdf"
    )
    message.add_attachment(b"\x00CAD", maintype="application", subtype="octet-stream",
                           filename="plan.dwg")  # fmt: skip
    (batch / "ordre.eml").write_bytes(bytes(message))
    budget = ["Année;Section;Crédits (francs)"]
    budget += [f"{year};{section};{year * 10 + n * 7}" for year in range(1980, 1990)
               for n, section in enumerate(("Transmissions", "Génie", "Santé"))]  # fmt: skip
    (batch / "budgets.csv").write_text("\n".join(budget) + "\n", encoding="utf-8")
    (batch / "faux.eml").write_text("ceci n'est pas un message\n", encoding="utf-8")
    make_msg(
        batch / "releve.msg",
        "DIFFUSION RESTREINTE // Relève du sémaphore de Ouessant",
        ("Capitaine Morvan", "morvan@marine.example"),
        "Préfet maritime de l'Atlantique",
        dt.datetime(1998, 3, 12, 9, 30, tzinfo=dt.UTC),
        "Le sémaphore du Créac'h sera relevé le 14 mars par l'équipe de Brest.\n",
        [("consignes.txt", "Les guetteurs prennent la veille à six heures.\n".encode())],
    )
    web = EmailMessage()  # an HTML body: its attachment is expanded all the same
    web["From"] = "Bureau courrier <courrier@marine.example>"
    web["Subject"] = "Tableau de service"
    web.set_content("<html><body><p>Ci-joint le tableau de service.</p></body></html>",
                    subtype="html")  # fmt: skip
    web.add_attachment("Le quart de nuit est assuré par le second maître Le Floch.\n",
                       filename="quart.txt")  # fmt: skip
    (batch / "service.eml").write_bytes(bytes(web))
    (batch / "coupe.msg").write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + b"\0" * 504)
    home = root / "home"
    fed = run_vigie(
        ["--verbose", "ingest", str(batch), "--level", "NON PROTÉGÉ", "--json"], home, models_dir
    )
    assert fed.returncode == 0, fed.stderr
    assert network_attempts(home) == []
    report = json.loads(fed.stdout)
    # Each stage's work and time: every page parsed, every chunk embedded and stored.
    stages, totals = report["stages"], report["totals"]
    assert stages["parse"]["count"] == totals["pages"] and stages["parse"]["seconds"] > 0
    assert stages["embed"]["count"] == stages["store"]["count"] == totals["chunks"]
    assert f"stage parse: {totals['pages']} pages in " in fed.stderr
    add_user(home, "lecteur", "analyst", Level.DIFFUSION_RESTREINTE, (), "lecteur-password")
    return home, report


def test_text_files_go_in_with_their_pages_and_markings(
    ingested: tuple[Path, dict], models_dir: Path
) -> None:
    home, report = ingested
    files = files_by_name(report)
    assert files["rapport.txt"]["state"] == "ingested" and files["rapport.txt"]["pages"] == 2
    assert files["rapport.txt"]["level"] == "DIFFUSION RESTREINTE"
    for name in ("inventaire.md", "page.html"):
        assert files[name]["state"] == "ingested" and files[name]["level"] == "NON PROTÉGÉ"
    assert files["faux.eml"]["state"] == "quarantined"
    assert files["faux.eml"]["reason"].startswith("not a document or recording Vigie reads")
    found = run_vigie(["search", "sous-marin Gymnote rentre de mission", "--json"], home,
                      models_dir, **READER)  # fmt: skip
    first = json.loads(found.stdout)["results"][0]
    assert (first["document"], first["page"]) == ("rapport.txt", 2)
    html = run_vigie(["search", "exercice Trident frégates", "--json"], home, models_dir)
    assert json.loads(html.stdout)["results"][0]["document"] == "page.html"


def test_a_csv_row_is_found_with_its_column_names(
    ingested: tuple[Path, dict], models_dir: Path
) -> None:
    home, report = ingested
    assert files_by_name(report)["budgets.csv"]["state"] == "ingested"
    found = run_vigie(["search", "crédits du Génie en 1986", "--json", "--limit", "3"], home,
                      models_dir)  # fmt: skip
    hits = [r for r in json.loads(found.stdout)["results"] if r["document"] == "budgets.csv"]
    assert hits
    row = "Année : 1986 ; Section : Génie ; Crédits (francs) : 19867"
    # the row whole, its values each after their column's name
    assert any(row in " ".join(hit["text"].split()) for hit in hits), hits[0]["text"]


def test_an_email_is_dated_marked_by_its_subject_and_its_attachments_stand_alone(
    ingested: tuple[Path, dict], models_dir: Path
) -> None:
    home, report = ingested
    files = files_by_name(report)
    assert files["ordre.eml"]["state"] == "ingested" and files["ordre.eml"]["level"] == "SECRET"
    attached = files["vivres.pdf"]
    assert attached["state"] == "ingested" and attached["level"] == "NON PROTÉGÉ"
    assert attached["reason"] == "attached to: ordre.eml"
    assert Path(attached["path"]).parent.parent == home / "unpacked"  # the name's ".." dropped
    assert any(p.endswith("ordre.eml/plan.dwg") for p in report["ignored"])
    question = ["search", "escadre appareille de Toulon vers Djibouti", "--json"]
    admin = json.loads(run_vigie(question, home, models_dir).stdout)["results"][0]
    assert admin["document"] == "ordre.eml" and admin["date"] == "1986-03-12"
    dated = run_vigie([*question, "--since", "1986-03-01", "--until", "1986-03-31"], home,
                      models_dir)  # fmt: skip
    assert json.loads(dated.stdout)["results"][0]["document"] == "ordre.eml"
    reader = run_vigie(question, home, models_dir, **READER)
    assert "ordre.eml" not in reader.stdout  # SECRET by its subject: not for a DR reader
    vivres = run_vigie(["search", "vivres embarqués Clemenceau", "--json"], home, models_dir,
                       **READER)  # fmt: skip
    assert json.loads(vivres.stdout)["results"][0]["document"] == "vivres.pdf"


def test_the_workspace_shows_a_cited_text_page_as_text_with_the_passage_marked(
    ingested: tuple[Path, dict],
    models_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    at = signed_in_workspace(ingested[0], models_dir, "lecteur", "lecteur-password", tmp_path,
                             monkeypatch, request)  # fmt: skip
    at.chat_input[0].set_value("Quand le sous-marin Gymnote rentre-t-il de mission ?").run()
    assert not at.exception
    marked = [m.value for m in at.markdown if "vigie-text-page" in m.value and "<mark>" in m.value]
    assert marked and "Gymnote" in marked[0]
    assert not any("neither a readable PDF" in c.value for c in at.caption)


def test_an_outlook_message_is_read_as_an_email(
    ingested: tuple[Path, dict], models_dir: Path
) -> None:
    home, report = ingested
    files = files_by_name(report)
    message = files["releve.msg"]
    assert message["state"] == "ingested" and message["level"] == "DIFFUSION RESTREINTE"
    quart = files["quart.txt"]  # beside an HTML body
    assert quart["state"] == "ingested" and quart["reason"] == "attached to: service.eml"
    attached = files["consignes.txt"]
    assert attached["state"] == "ingested" and attached["reason"] == "attached to: releve.msg"
    assert files["coupe.msg"]["state"] == "quarantined"
    assert "corrupt compound (OLE2) file" in files["coupe.msg"]["reason"]
    question = ["search", "relève du sémaphore du Créac'h", "--json", "--since", "1998-03-01"]
    first = json.loads(run_vigie(question, home, models_dir, **READER).stdout)["results"][0]
    assert (first["document"], first["date"], first["page"]) == ("releve.msg", "1998-03-12", 1)
    assert (
        "Capitaine Morvan"
        in json.loads(
            run_vigie(["search", "message du capitaine Morvan", "--json"], home, models_dir).stdout
        )["results"][0]["text"]
    )
    veille = run_vigie(["search", "guetteurs prennent la veille", "--json"], home, models_dir)
    assert json.loads(veille.stdout)["results"][0]["document"] == "consignes.txt"
