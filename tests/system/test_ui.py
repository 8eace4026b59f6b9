"""The Streamlit app, driven by Streamlit's AppTest over a real ingested store: login,
lockout, session expiry, pages by role, and answers within the reader's clearance."""

from __future__ import annotations

import json
import re
import shutil
import socket
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ingest.ledger import Ledger
from retrieval.embedder import Embedder
from retrieval.qdrant_edge import QdrantEdgeStore
from tests.conftest import (
    ADMIN,
    ADMIN_PASSWORD,
    ROOT,
    SCANNED_DOC,
    SCANNED_QUESTION,
    add_user,
    make_chunk,
)
from tests.pdfmaker import make_text_pdf
from vigie.audit import AuditTrail
from vigie.config import Settings
from vigie.contracts import Level
from vigie.offline import NetworkBlocked, blocked_attempts
from vigie.users import UserStore

APP = str(ROOT / "ui" / "streamlit_app.py")
READER, READER_PASSWORD = "lecteur", "lecteur-password"
OPERATOR, OPERATOR_PASSWORD = "operateur", "operateur-password"
VICTIM, VICTIM_PASSWORD = "victime", "victime-password"
FOLLOW_UP = "Et qui l'accueillit à la coupée ?"
NOTE_LINES = [
    "Note de service sur le ravitaillement des phares de la cote nord.",
    "Les gardiens recoivent le petrole chaque trimestre.",
]
PAGE_KEYS = {
    "Questions": "ask",
    "Recherche": "search",
    "Documents": "documents",
    "Ingestion": "ingestion",
    "Utilisateurs": "users",
    "Audit": "audit",
}
# A SECRET page on the very subject of SCANNED_QUESTION: the public reader must never see it.
SECRET_DOC = "colbert-secret"
SECRET_TEXT = (
    "Le croiseur Colbert attendait le Président du Conseil à Dunkerque : note SECRET KZ99Q "
    "sur l'escorte et les codes de transmission."
)


@pytest.fixture(scope="module")
def ui_home(
    sample_home: Path, tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> Path:
    # The app keeps the embedded store open (and locked) for the life of this process:
    # give it its own copy so the CLI tests keep theirs.
    home = tmp_path_factory.mktemp("ui") / "home"
    shutil.copytree(sample_home, home)
    store = QdrantEdgeStore.open(Settings(home=home).store_path)
    secret = make_chunk(SECRET_DOC, SECRET_TEXT, level=Level.SECRET)
    store.upsert([secret], embedder.embed_passages([secret.text]))
    store.close()
    add_user(home, READER, "analyst", Level.NON_PROTEGE, (), READER_PASSWORD)
    add_user(home, OPERATOR, "operator", Level.NON_PROTEGE, (), OPERATOR_PASSWORD)
    add_user(home, VICTIM, "analyst", Level.NON_PROTEGE, (), VICTIM_PASSWORD)
    return home


@pytest.fixture(scope="module")
def attempts_before() -> list[str]:
    """The guard's record when this file's first test starts (other files add to it)."""
    return blocked_attempts()


@pytest.fixture(scope="module")
def import_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one server folder operators may ingest from in these tests."""
    root = tmp_path_factory.mktemp("arrivals")
    batch = root / "lot-1"
    batch.mkdir()
    make_text_pdf(batch / "note-ui.pdf", [["NON PROTÉGÉ", *NOTE_LINES]])
    (batch / "broken.pdf").write_bytes(b"%PDF-1.7 this is not a PDF at all")
    return root


@pytest.fixture()
def app_env(
    attempts_before: list[str],
    ui_home: Path,
    models_dir: Path,
    import_root: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VIGIE_HOME", str(ui_home))
    monkeypatch.setenv("VIGIE_MODELS_DIR", str(models_dir))
    monkeypatch.setenv("VIGIE_IMPORT_ROOTS", json.dumps([str(import_root)]))


def login(name: str, password: str, timeout: int = 300) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=timeout).run()
    at.text_input(key="login_name").input(name)
    at.text_input(key="login_password").input(password)
    at.button[0].click().run()
    assert not at.exception
    return at


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def signed_in(at: AppTest) -> bool:
    return any(r.key == "page" for r in at.radio)


def shown(at: AppTest) -> str:
    """Everything the page shows as text: elements' values and labels."""
    values = [str(getattr(e, "value", "")) for e in at.main]
    labels = [e.label for e in at.expander]
    return "\n".join(values + labels)


def banners(at: AppTest) -> list[str]:
    """The level of each classification banner on the page, top first."""
    return re.findall(r"vigie-banner-(?:top|bottom)' data-level='(\d)'", shown(at))


def go(at: AppTest, page: str) -> AppTest:
    at.radio(key="page").set_value(page).run()
    assert not at.exception
    return at


def ask(at: AppTest, question: str) -> AppTest:
    at.chat_input[0].set_value(question).run()
    assert not at.exception
    return at


def test_the_app_asks_for_a_login_first(app_env: None) -> None:
    at = AppTest.from_file(APP, default_timeout=300).run()
    assert not at.exception
    assert [t.label for t in at.text_input] == ["Identifiant", "Mot de passe"]
    assert not signed_in(at) and not at.chat_input


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(app_env: None) -> None:
    wrong = login(READER, "not-the-password")
    unknown = login("nobody-here", "not-the-password")
    assert errors(wrong) == errors(unknown) == ["unknown user or wrong password"]
    assert not signed_in(wrong)


def test_repeated_failures_lock_the_account_even_for_the_right_password(app_env: None) -> None:
    for _ in range(5):
        login(VICTIM, "guessing-again")
    locked = login(VICTIM, VICTIM_PASSWORD)
    assert len(errors(locked)) == 1 and "locked until" in errors(locked)[0]
    assert not signed_in(locked)


def test_an_idle_session_expires_and_forgets_the_conversation(app_env: None) -> None:
    at = login(READER, READER_PASSWORD)
    assert signed_in(at) and at.chat_input
    at.session_state["vigie_conversation"] = ["something shown earlier"]
    at.session_state["vigie_seen"] = time.monotonic() - 31 * 60
    at.run()
    assert [t.label for t in at.text_input] == ["Identifiant", "Mot de passe"]
    assert any("Session expirée" in i.value for i in at.info)
    assert "vigie_conversation" not in at.session_state


@pytest.mark.parametrize(
    ("name", "password", "pages"),
    [
        (READER, READER_PASSWORD, ["Questions", "Recherche", "Documents"]),
        (OPERATOR, OPERATOR_PASSWORD, ["Ingestion"]),
        (
            ADMIN,
            ADMIN_PASSWORD,
            ["Questions", "Recherche", "Documents", "Ingestion", "Utilisateurs", "Audit"],
        ),
    ],
)
def test_pages_follow_the_role(app_env: None, name: str, password: str, pages: list) -> None:
    at = login(name, password)
    assert list(at.radio(key="page").options) == pages
    for page in at.radio(key="page").options:
        assert not go(at, PAGE_KEYS[page]).exception
    if "Audit" in pages:
        go(at, "audit")
        assert any("Journal d'audit intact" in s.value for s in at.success)


def test_the_interface_switches_to_english(app_env: None) -> None:
    at = login(READER, READER_PASSWORD)
    at.radio(key="lang").set_value("en").run()
    assert list(at.radio(key="page").options) == ["Questions", "Search", "Documents"]
    assert any("within your clearance" in c.value for c in at.caption)
    at.radio(key="lang").set_value("fr").run()
    assert list(at.radio(key="page").options) == ["Questions", "Recherche", "Documents"]


def test_the_public_reader_gets_the_answer_without_the_secret_page(app_env: None) -> None:
    at = login(READER, READER_PASSWORD, timeout=600)
    assert banners(at) == ["0", "0"]  # top and bottom of the page
    ask(at, SCANNED_QUESTION)
    labels = [e.label for e in at.expander]
    assert any(label.startswith("[") and SCANNED_DOC in label for label in labels), labels
    assert SECRET_DOC not in shown(at) and "KZ99Q" not in shown(at)
    assert banners(at) == ["0", "0"]
    # Every cited source is one click from the answer: a link to its anchor.
    said = [m.value for m in at.markdown if "Colbert" in m.value and "vigie-quote" not in m.value]
    assert said and re.search(r"\(#source-0-\d\)", said[0]), said
    assert any("<div id='source-0-" in m.value for m in at.markdown)


def test_the_admin_cleared_for_secret_is_given_the_secret_page_under_a_secret_banner(
    app_env: None,
) -> None:
    """The control of the test above: the SECRET page is what this question finds."""
    at = login(ADMIN, ADMIN_PASSWORD, timeout=600)
    ask(at, SCANNED_QUESTION)
    labels = [e.label for e in at.expander]
    assert any(SECRET_DOC in label for label in labels), labels
    assert banners(at) == ["2", "2"]


def test_a_follow_up_keeps_the_conversation_and_new_question_starts_clean(
    app_env: None, ui_home: Path
) -> None:
    at = login(READER, READER_PASSWORD, timeout=600)
    ask(at, SCANNED_QUESTION)
    ask(at, "Et qui l'accueillit à la coupée ?")
    asked_as = [c.value for c in at.caption if c.value.startswith("Question posée aux archives")]
    assert len(asked_as) == 1  # the follow-up's standalone question is shown
    questions = [m.value for m in at.markdown if m.value in (SCANNED_QUESTION, FOLLOW_UP)]
    assert questions == [SCANNED_QUESTION, FOLLOW_UP]
    record = [r for r in AuditTrail(ui_home / "audit.jsonl").records() if r.action == "question"]
    first, follow_up = record[-2].details, record[-1].details
    assert follow_up["question"] == FOLLOW_UP and follow_up["asked"] != FOLLOW_UP
    assert follow_up["conversation"] == first["conversation"]  # one conversation, two turns
    at.button(key="new_question").click().run()
    assert not [m for m in at.markdown if m.value in (SCANNED_QUESTION, FOLLOW_UP)]
    ask(at, FOLLOW_UP)
    record = [r for r in AuditTrail(ui_home / "audit.jsonl").records() if r.action == "question"]
    assert record[-1].details["asked"] == FOLLOW_UP  # a new conversation: asked as typed
    second = record[-1].details["conversation"]
    assert second != first["conversation"]

    # The sidebar lists both; the first opens again from the store and is followed up.
    listed = [b.key for b in at.sidebar.button if (b.key or "").startswith("conversation_")]
    assert {f"conversation_{first['conversation']}", f"conversation_{second}"} <= set(listed)
    at.button(key=f"conversation_{first['conversation']}").click().run()
    questions = [m.value for m in at.markdown if m.value in (SCANNED_QUESTION, FOLLOW_UP)]
    assert questions == [SCANNED_QUESTION, FOLLOW_UP]  # its two turns, as stored
    ask(at, "Et à quelle date ?")
    record = [r for r in AuditTrail(ui_home / "audit.jsonl").records() if r.action == "question"]
    assert record[-1].details["conversation"] == first["conversation"]
    at.button(key="delete_conversation").click().run()
    listed = [b.key for b in at.sidebar.button if (b.key or "").startswith("conversation_")]
    assert f"conversation_{first['conversation']}" not in listed
    assert f"conversation_{second}" in listed


def test_a_document_opens_page_by_page_and_a_secret_one_is_unknown(app_env: None) -> None:
    at = login(READER, READER_PASSWORD, timeout=600)
    go(at, "documents")
    at.text_input(key="document").input(f"{SECRET_DOC}.pdf")
    at.button[0].click().run()
    secret = errors(at)
    assert len(secret) == 1 and secret[0].startswith("no document you may read matches")
    at.text_input(key="document").input("nowhere-at-all.pdf")
    at.button[0].click().run()
    unknown = errors(at)
    # A document above the reader reads exactly as one that was never ingested.
    assert unknown[0].replace("nowhere-at-all.pdf", "X") == secret[0].replace(
        f"{SECRET_DOC}.pdf", "X"
    )
    at.text_input(key="document").input("ocrmypdf_linn.pdf")
    at.button[0].click().run()
    assert not at.exception and not errors(at)
    assert any(s.value == "ocrmypdf_linn.pdf" for s in at.subheader)
    # Every page: its image and its text, side by side.
    assert len(at.get("image")) >= 1
    assert not any("Page non affichable" in c.value for c in at.caption)
    assert any("Texte extrait" in m.value for m in at.markdown)
    at.button(key="doc_translate_en").click().run()
    assert not at.exception and not errors(at)


def test_similar_documents_stay_within_the_clearance(app_env: None) -> None:
    admin = login(ADMIN, ADMIN_PASSWORD, timeout=600)
    go(admin, "documents")
    admin.text_input(key="document").input(SCANNED_DOC)
    admin.button[0].click().run()
    admin.button(key="doc_similar").click().run()
    found = shown(admin).split("Documents similaires", 1)[-1]
    assert SECRET_DOC in found  # the SECRET note is about the same scene
    assert f"**{SCANNED_DOC}**" not in found  # never the document itself

    reader = login(READER, READER_PASSWORD, timeout=600)
    go(reader, "documents")
    reader.text_input(key="document").input(SCANNED_DOC)
    reader.button[0].click().run()
    reader.button(key="doc_similar").click().run()
    assert not reader.exception
    assert SECRET_DOC not in shown(reader) and "KZ99Q" not in shown(reader)
    assert "1. **" in shown(reader)  # the reader is given public documents


def test_search_filters_by_document_type_and_level(app_env: None, ui_home: Path) -> None:
    ledger = Ledger(ui_home / "ledger.sqlite3", read_only=True)
    scanned = {e.file_name for e in ledger.in_state("ingested") if e.ocr_pages}
    ledger.close()
    at = login(ADMIN, ADMIN_PASSWORD)
    go(at, "search")
    at.text_input(key="search_query").input("Dunkerque croiseur Colbert")
    at.multiselect(key="search_types").set_value(["scanned"])
    at.button[0].click().run()
    assert not at.exception and not errors(at)
    files = re.findall(r"\*\*\d+\. (.+?)\*\* — page", shown(at))
    assert files and set(files) <= scanned, (files, scanned)
    at.multiselect(key="search_types").set_value([])
    at.selectbox(key="search_level").set_value(Level.NON_PROTEGE)
    at.button[0].click().run()
    assert SECRET_DOC not in shown(at) and banners(at) == ["0", "0"]
    at.selectbox(key="search_level").set_value(Level.TRES_SECRET)
    at.button[0].click().run()
    assert SECRET_DOC in shown(at) and banners(at) == ["2", "2"]


def test_a_reader_cannot_raise_the_search_level_above_their_clearance(app_env: None) -> None:
    at = login(READER, READER_PASSWORD)
    go(at, "search")
    assert list(at.selectbox(key="search_level").options) == ["NON PROTÉGÉ"]


def test_the_operator_ingests_a_server_folder_and_sees_the_quarantine(
    app_env: None, import_root: Path, ui_home: Path
) -> None:
    at = login(OPERATOR, OPERATOR_PASSWORD, timeout=900)
    at.text_input(key="ingest_folder").input(str(ui_home))  # not an import folder
    at.button[0].click().run()
    assert len(errors(at)) == 1 and "not inside an import folder" in errors(at)[0]
    at.text_input(key="ingest_folder").input(str(import_root / "lot-1"))
    at.button[0].click().run()
    assert not at.exception
    assert any(s.value.startswith("Lot 20") for s in at.success), [s.value for s in at.success]
    assert any("broken.pdf" in w.value for w in at.warning)
    page = shown(at)
    assert "Quarantaine" in page and "broken.pdf" in page
    assert at.button(key="retry_quarantine")
    ledger = Ledger(ui_home / "ledger.sqlite3", read_only=True)
    batch = ledger.in_batch(ledger.batches()[0][0])
    ledger.close()
    states = {Path(e.path).name: e.state for e in batch}
    assert states == {"note-ui.pdf": "ingested", "broken.pdf": "quarantined"}
    broken = next(e for e in batch if e.state == "quarantined")
    at.button(key=f"retry_{broken.sha256[:16]}").click().run()  # this file alone
    assert not at.exception
    assert any("broken.pdf" in w.value for w in at.warning)  # still broken, said again
    records = AuditTrail(ui_home / "audit.jsonl").records()
    retried = [r for r in records if r.action == "ingest_batch"]
    assert retried[-1].details["paths"] == [broken.path]
    at.button(key="retry_quarantine").click().run()
    assert not at.exception
    assert any("broken.pdf" in w.value for w in at.warning)


def test_the_admin_adds_changes_and_disables_a_user(app_env: None, ui_home: Path) -> None:
    at = login(ADMIN, ADMIN_PASSWORD)
    go(at, "users")
    at.text_input(key="new_name").input("nouvelle")
    at.selectbox(key="new_level").set_value(Level.DIFFUSION_RESTREINTE)
    at.text_area(key="new_caveats").input("SPÉCIAL FRANCE")
    at.text_input(key="new_password").input("un-mot-de-passe-long")
    at.button[0].click().run()
    assert not errors(at), errors(at)
    assert any("nouvelle" in s.value for s in at.success)
    at.selectbox(key="edit_name").set_value("nouvelle").run()
    at.selectbox(key="edit_level_nouvelle").set_value(Level.SECRET)
    at.checkbox(key="edit_active_nouvelle").uncheck()
    at.button[1].click().run()
    assert not errors(at), errors(at)
    with UserStore(ui_home / "users.sqlite3") as users:
        user = users.get("nouvelle")
    assert user is not None and user.level == Level.SECRET and not user.active
    assert user.caveats == frozenset({"SPÉCIAL FRANCE"})
    actions = [r.action for r in AuditTrail(ui_home / "audit.jsonl").records()]
    assert actions[-2:] == ["user_added", "user_changed"]
    go(at, "audit")
    at.button(key="audit_verify").click().run()
    assert any("Journal d'audit intact" in s.value for s in at.success)


def test_the_app_tried_no_connection_off_this_machine(
    app_env: None, attempts_before: list[str]
) -> None:
    """The app installs the network guard in this process: every page above ran under it
    (this test comes last in the file), and none tried to leave the machine."""
    at = login(READER, READER_PASSWORD)
    assert not at.exception
    with pytest.raises(NetworkBlocked):
        socket.create_connection(("192.0.2.1", 80), timeout=1)  # the guard is really on
    assert blocked_attempts()[len(attempts_before) :] == ["192.0.2.1"]


def test_a_table_passage_is_drawn_as_a_table(app_env: None) -> None:
    """The bylaw's fee table (a ruled table of samples/) is found and drawn as a table."""
    at = login(READER, READER_PASSWORD)
    go(at, "search")
    at.text_input(key="search_query").input("Phase II Pentes 40-80")
    at.button[0].click().run()
    assert not at.exception and not errors(at)
    tables = [m.value for m in at.markdown if m.value.startswith("| ")]
    assert any("| Phase II - Pentes 40-80 | 3 790 000 $ |" in table for table in tables), tables
