"""The application room returns only what the caller's clearance allows, metadata too:
a SECRET batch does not exist for a NON PROTÉGÉ operator's status, ingestion page,
search filters, removal or retry; nor for `vigie status`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.services import Services
from app.session import Session
from tests.conftest import add_user, run_vigie
from tests.pdfmaker import make_text_pdf
from vigie.config import Settings
from vigie.contracts import Level
from vigie.errors import NotFound
from vigie.users import Role, User

BODY = ["Rapport sur le ravitaillement de la base navale de Brest, chaque semaine."]
SECRET_NAMES = ("plan-secret.pdf", "abime-secret.pdf", "abime-sans-niveau.pdf")


def person(name: str, role: Role, level: Level) -> User:
    return User(name, role, level, frozenset(), True)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[Services]:
    """Two batches: a public one fed by `public-op`, a SECRET one fed by `secret-op`
    (a SECRET document, an unreadable file in a folder declared SECRET, and an
    unreadable file with no declared level)."""
    root = tmp_path_factory.mktemp("batches")
    public, secret = root / "public", root / "secret"
    (secret / "declared").mkdir(parents=True)
    public.mkdir()
    make_text_pdf(public / "note-publique.pdf", [["NON PROTÉGÉ", *BODY]])
    make_text_pdf(
        secret / "plan-secret.pdf", [["SECRET DÉFENSE", *BODY], ["SECRET DÉFENSE", *BODY]]
    )
    (secret / "declared" / "vigie-classification.toml").write_text('level = "SECRET"\n')
    (secret / "declared" / "abime-secret.pdf").write_bytes(b"%PDF-1.7 not a PDF at all")
    (secret / "abime-sans-niveau.pdf").write_bytes(b"%PDF-1.7 not a PDF either")
    home = root / "home"
    services = Services(Settings(home=home, models_dir=models_dir))
    users = {
        "public-op": person("public-op", Role.OPERATOR, Level.NON_PROTEGE),
        "secret-op": person("secret-op", Role.OPERATOR, Level.SECRET),
    }
    Session(services, users["public-op"], "test").ingest([public])
    Session(services, users["secret-op"], "test").ingest([secret])
    yield services
    services.close()


def session(services: Services, name: str, role: Role, level: Level) -> Session:
    return Session(services, person(name, role, level), "test")


def every_name(status) -> str:  # noqa: ANN001 - ArchiveStatus
    """All that the status holds, as text: its JSON and every row in it."""
    return json.dumps(status.to_dict(), ensure_ascii=False) + repr(status)


def test_a_public_operator_sees_nothing_of_the_secret_batch(archive: Services) -> None:
    status = session(archive, "public-op", Role.OPERATOR, Level.NON_PROTEGE).status()
    shown = every_name(status)
    assert not any(name in shown for name in SECRET_NAMES), shown
    assert set(status.states) == {"ingested"}
    assert status.states["ingested"].files == 1
    assert len(status.batches) == 1 and status.batches[0][1] == 1
    assert status.quarantined == []
    # the store's count is the reader's too: the public note's chunks only
    assert status.chunks_in_store == status.states["ingested"].chunks


def test_the_secret_operator_sees_their_batch_and_its_unreadable_files(archive: Services) -> None:
    status = session(archive, "secret-op", Role.OPERATOR, Level.SECRET).status()
    assert status.states["ingested"].files == 2
    assert {Path(r.path).name for r in status.quarantined} == {
        "abime-secret.pdf",
        "abime-sans-niveau.pdf",
    }
    assert len(status.batches) == 2


def test_an_unreadable_file_of_unknown_level_is_for_its_feeder_and_the_top_level(
    archive: Services,
) -> None:
    other = session(archive, "other-op", Role.OPERATOR, Level.SECRET).status()
    assert [Path(r.path).name for r in other.quarantined] == ["abime-secret.pdf"]
    top = session(archive, "top-op", Role.OPERATOR, Level.TRES_SECRET).status()
    assert len(top.quarantined) == 2


def test_readers_filters_and_document_names_stop_at_the_clearance(archive: Services) -> None:
    reader = session(archive, "lecteur", Role.ANALYST, Level.NON_PROTEGE)
    assert [r.file_name for r in reader.ingested_files()] == ["note-publique.pdf"]
    with pytest.raises(NotFound) as secret:
        reader.document("plan-secret.pdf")
    with pytest.raises(NotFound) as unknown:
        reader.document("jamais-vu.pdf")
    assert str(secret.value).replace("plan-secret", "X") == str(unknown.value).replace(
        "jamais-vu", "X"
    )
    cleared = session(archive, "analyste", Role.ANALYST, Level.SECRET)
    assert {r.file_name for r in cleared.ingested_files()} == {
        "note-publique.pdf",
        "plan-secret.pdf",
    }


def test_a_public_operator_can_neither_remove_nor_retry_what_they_cannot_see(
    archive: Services,
) -> None:
    public_op = session(archive, "public-op", Role.OPERATOR, Level.NON_PROTEGE)
    secret_doc = next(r for r in archive_rows(archive) if r.file_name == "plan-secret.pdf")
    assert public_op.remove(secret_doc.path) == []
    assert public_op.remove(secret_doc.sha256[:12]) == []
    retried = public_op.retry_quarantine()
    assert retried.outcomes == []
    with pytest.raises(NotFound):
        public_op.retry_file(quarantined_sha(archive, "abime-secret.pdf"))
    still = session(archive, "secret-op", Role.OPERATOR, Level.SECRET).status()
    assert still.states["ingested"].files == 2


def archive_rows(services: Services) -> list:
    top = session(services, "t", Role.ANALYST, Level.TRES_SECRET)
    return list(top.ingested_files())


def quarantined_sha(services: Services, name: str) -> str:
    top = session(services, "t", Role.OPERATOR, Level.TRES_SECRET).status()
    return next(r.sha256 for r in top.quarantined if r.file_name == name)


def test_vigie_status_of_a_public_operator_names_no_secret_file(
    archive: Services, models_dir: Path
) -> None:
    home = archive.settings.home
    add_user(home, "public-op", "operator", Level.NON_PROTEGE, (), "public-op-password")
    env = {"VIGIE_USER": "public-op", "VIGIE_PASSWORD": "public-op-password"}
    archive.close()  # the CLI opens the embedded store itself
    result = run_vigie(["status", "--json"], home, models_dir, **env)
    assert result.returncode == 0, result.stderr
    shown = result.stdout + result.stderr
    assert not any(name in shown for name in SECRET_NAMES), shown
    status = json.loads(result.stdout)
    assert status["documents"] == 1 and status["quarantined"] == []
    plain = run_vigie(["status"], home, models_dir, **env)
    assert plain.returncode == 0, plain.stderr
    assert not any(name in plain.stdout for name in SECRET_NAMES), plain.stdout
    assert "1 files" in plain.stdout
