"""Markings read with their strength, through the CLI as an operator and an admin use it.

A signature block written "(S) Name" above a title is not a marking; a lone "(S)"
paragraph leaves the declared level and lists the document "to confirm" for those
cleared to SECRET only; an admin cleared to it confirms (the document is raised and
vanishes for readers below) or dismisses it, and both decisions are audited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import (
    add_user,
    files_by_name,
    network_attempts,
    one_line_error,
    run_vigie,
)
from tests.pdfmaker import make_text_pdf
from vigie.audit import AuditTrail
from vigie.contracts import Level

BODY = [
    "Compte rendu de la réunion sur le ravitaillement de la base navale de Brest.",
    "Le ravitaillement est assuré chaque semaine par deux pétroliers.",
]
# The signature block of a real Québec bylaw (fr-born-digital/alexis_Rgl-1314-2021-L),
# its "(s)" written in capitals as other administrations write it.
SIGNATURES = [
    "Signé à Sainte-Adèle, ce 13e jour du mois d'octobre de l'an 2021.",
    "(S) Nadine Brière",
    "__________________________",
    "Nadine Brière",
    "Mairesse",
    "",
    "(S) Audrey Senécal",
    "___________________________________",
    "Me Audrey Senécal",
    "Greffière et directrice des services juridiques",
]
READER = {"VIGIE_USER": "lecteur", "VIGIE_PASSWORD": "lecteur-password"}
OPERATOR = {"VIGIE_USER": "guichet", "VIGIE_PASSWORD": "guichet-password"}
LOW_ADMIN = {"VIGIE_USER": "chef", "VIGIE_PASSWORD": "chef-password"}


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("weak")
    batch = root / "batch"
    batch.mkdir()
    make_text_pdf(batch / "arrete-signe.pdf", [[*BODY, "", *SIGNATURES]])
    lone = [*BODY, "", "(S) Le sous-marin Casabianca appareille de Brest le 12 mars."]
    make_text_pdf(batch / "note-sous-marin.pdf", [lone])
    make_text_pdf(batch / "note-escorte.pdf", [[*BODY, "", "(S) L'escorte compte deux frégates."]])
    banner = ["DIFFUSION RESTREINTE", "", *BODY, "", "(S) Le convoi part à l'aube.", "", "",
              "DIFFUSION RESTREINTE"]  # fmt: skip
    make_text_pdf(batch / "note-convoi.pdf", [banner])
    home = root / "home"
    fed = run_vigie(["ingest", str(batch), "--level", "NON PROTÉGÉ", "--json"], home, models_dir)
    assert fed.returncode == 0, fed.stderr
    assert network_attempts(home) == []
    add_user(home, "lecteur", "analyst", Level.NON_PROTEGE, (), "lecteur-password")
    add_user(home, "guichet", "operator", Level.NON_PROTEGE, (), "guichet-password")
    add_user(home, "chef", "admin", Level.DIFFUSION_RESTREINTE, (), "chef-password")
    return home, json.loads(fed.stdout)


def test_signatures_are_not_markings_and_a_lone_mark_waits_for_a_person(
    archive: tuple[Path, dict],
) -> None:
    _, report = archive
    files = files_by_name(report)
    assert files["arrete-signe.pdf"]["level"] == "NON PROTÉGÉ"
    assert files["arrete-signe.pdf"]["to_confirm"] == []
    assert files["note-convoi.pdf"]["level"] == "SECRET"  # beside a banner, "(S)" counts
    pending = files["note-sous-marin.pdf"]
    assert pending["level"] == "NON PROTÉGÉ"
    [marking] = pending["to_confirm"]
    assert marking["level"] == "SECRET" and marking["page"] == 1 and marking["line"] == 2
    assert marking["evidence"].startswith("(S) Le sous-marin Casabianca")
    names = {Path(item["path"]).name for item in report["to_confirm"]}
    assert names == {"note-sous-marin.pdf", "note-escorte.pdf"}


def test_the_evidence_is_listed_only_to_those_cleared_to_its_level(
    archive: tuple[Path, dict], models_dir: Path
) -> None:
    home, _ = archive
    admin = run_vigie(["status"], home, models_dir)
    listed = [line for line in admin.stdout.splitlines() if line.startswith("to confirm")]
    assert len(listed) == 2 and any("SECRET? p. 1 line 2" in line for line in listed)
    operator = run_vigie(["status", "--json"], home, models_dir, **OPERATOR)
    assert operator.returncode == 0, operator.stderr
    assert json.loads(operator.stdout)["to_confirm"] == []
    assert "sous-marin" not in operator.stdout and "SECRET" not in operator.stdout


def test_an_admin_cleared_to_it_confirms_and_the_document_leaves_lower_readers(
    archive: tuple[Path, dict], models_dir: Path
) -> None:
    home, _ = archive
    question = ["search", "sous-marin Casabianca appareille de Brest", "--json"]
    before = run_vigie(question, home, models_dir, **READER)
    assert "note-sous-marin.pdf" in {r["document"] for r in json.loads(before.stdout)["results"]}

    path = str((home.parent / "batch" / "note-sous-marin.pdf").resolve())
    low = one_line_error(run_vigie(["marking", "confirm", path], home, models_dir, **LOW_ADMIN))
    assert "no document with a marking to confirm matches" in low and "SECRET" not in low
    analyst = one_line_error(run_vigie(["marking", "confirm", path], home, models_dir, **READER))
    assert "may not" in analyst

    confirmed = run_vigie(["marking", "confirm", path], home, models_dir)
    assert confirmed.returncode == 0, confirmed.stderr
    assert confirmed.stdout.strip().endswith("marking confirmed: now SECRET")
    after = run_vigie(question, home, models_dir, **READER)
    assert "note-sous-marin.pdf" not in after.stdout

    dismissed = run_vigie(["marking", "dismiss", "note-escorte.pdf"], home, models_dir)
    assert dismissed.returncode == 0, dismissed.stderr
    assert "marking dismissed: stays NON PROTÉGÉ" in dismissed.stdout
    status = run_vigie(["status", "--json"], home, models_dir)
    assert json.loads(status.stdout)["to_confirm"] == []
    decisions = [r for r in AuditTrail(home / "audit.jsonl").records()
                 if r.action in ("confirm_marking", "dismiss_marking")]  # fmt: skip
    assert [(r.action, r.details["level"]) for r in decisions] == [
        ("confirm_marking", "SECRET"),
        ("dismiss_marking", "NON PROTÉGÉ"),
    ]
    again = one_line_error(run_vigie(["marking", "dismiss", path], home, models_dir))
    assert "no document with a marking to confirm matches" in again
