"""The workspace in a real browser: Debian's chromium driven by Playwright, against
`vigie ui` serving a real ingested archive on 127.0.0.1.

Every test fails on any request (page, image, font, websocket) to another host than
127.0.0.1, and saves a screenshot of each page it visits under
test-artifacts/browser/ (VIGIE_ARTIFACTS overrides the folder).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, Route, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from pypdf import PdfReader

from ingest.ledger import Ledger
from tests.conftest import (
    ADMIN,
    ADMIN_PASSWORD,
    ROOT,
    SCANNED_QUESTION,
    add_user,
    network_attempts,
    run_vigie,
)
from tests.pdfmaker import make_text_pdf
from tests.system.test_ui_server import free_port
from vigie.audit import AuditTrail
from vigie.contracts import Level

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
ARTIFACTS = Path(os.environ.get("VIGIE_ARTIFACTS", ROOT / "test-artifacts")) / "browser"
LOCAL_HOSTS = {"127.0.0.1"}

ANALYST, ANALYST_PASSWORD = "analyste", "analyste-password"  # SECRET
READER, READER_PASSWORD = "lecteur", "lecteur-password"  # NON PROTÉGÉ
OPERATOR, OPERATOR_PASSWORD = "operateur", "operateur-password"
SECRET_FILE = "note-escorte-secret.pdf"
LONG_QUESTION = (
    "Racontez en détail, jour par jour, tout ce que le journal rapporte sur Dunkerque, "
    "le croiseur, le Président du Conseil, les autorités et les manifestations."
)
SECRET_WORD = "KZ99Q"
SECRET_LINES = [
    "SECRET",
    "",
    "Note sur l'escorte du croiseur Colbert a Dunkerque, code KZ99Q.",
    "Le croiseur Colbert attendait le President du Conseil a Dunkerque sous escorte.",
    "SECRET",
]


# -- the server and the browser -----------------------------------------------------------


@pytest.fixture(scope="module")
def import_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("arrivals")
    batch = root / "lot-navigateur"
    batch.mkdir()
    make_text_pdf(
        batch / "phares.pdf",
        [["NON PROTÉGÉ", "Ravitaillement des phares de la cote nord en petrole.", "NON PROTÉGÉ"]],
    )
    (batch / "abime.pdf").write_bytes(b"%PDF-1.4 truncated and not a PDF")
    return root


@pytest.fixture(scope="module")
def browser_home(
    sample_home: Path, tmp_path_factory: pytest.TempPathFactory, models_dir: Path
) -> Path:
    """The samples, plus a real SECRET PDF on the very scene of SCANNED_QUESTION."""
    home = tmp_path_factory.mktemp("browser") / "home"
    shutil.copytree(sample_home, home)
    secret = tmp_path_factory.mktemp("secret") / SECRET_FILE
    make_text_pdf(secret, [SECRET_LINES])
    result = run_vigie(["ingest", str(secret)], home, models_dir)
    assert result.returncode == 0, result.stderr
    add_user(home, ANALYST, "analyst", Level.SECRET, (), ANALYST_PASSWORD)
    add_user(home, READER, "analyst", Level.NON_PROTEGE, (), READER_PASSWORD)
    add_user(home, OPERATOR, "operator", Level.NON_PROTEGE, (), OPERATOR_PASSWORD)
    return home


@pytest.fixture(scope="module")
def server(browser_home: Path, models_dir: Path, import_root: Path) -> Iterator[str]:
    port = free_port()
    env = dict(
        os.environ,
        VIGIE_HOME=str(browser_home),
        VIGIE_MODELS_DIR=str(models_dir),
        VIGIE_IMPORT_ROOTS=f'["{import_root}"]',
        VIGIE_NETWORK_LOG=str(browser_home.parent / "network-attempts.log"),
    )
    log = (browser_home.parent / "ui.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "ui.cli", "ui", "--port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health") as response:
                    if response.read() == b"ok":
                        break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
    # The server's own guard saw no attempt to leave the machine either.
    assert network_attempts(browser_home) == []


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture()
def open_page(
    browser: Browser, server: str, request: pytest.FixtureRequest
) -> Iterator[Callable[[], Page]]:
    """New browser pages on the app; any request to another host fails the test. Each
    page's last state is saved as a screenshot too (what a failed test left on screen)."""
    outside: list[str] = []
    contexts = []
    pages: list[Page] = []

    def guard(route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    def make() -> Page:
        context = browser.new_context(
            viewport={"width": 1400, "height": 1000}, locale="fr-FR", accept_downloads=True
        )
        context.route("**/*", guard)
        context.set_default_timeout(120_000)  # a loaded CI machine draws pages slowly
        contexts.append(context)
        page = context.new_page()
        page.on(
            "websocket",
            lambda ws: None if urlsplit(ws.url).hostname in LOCAL_HOSTS else outside.append(ws.url),
        )
        page.goto(server)
        pages.append(page)
        return page

    yield make
    for number, page in enumerate(pages, start=1):
        shoot(page, f"last-{request.node.name}-{number}")
    for context in contexts:
        context.close()
    assert outside == [], f"requests left 127.0.0.1: {outside}"


def shoot(page: Page, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    return path


def main(page: Page):
    return page.locator('[data-testid="stMain"]')


def sign_in(page: Page, name: str, password: str) -> None:
    page.get_by_label("Identifiant").fill(name)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()
    page.locator(".vigie-banner-top").wait_for(timeout=60_000)


PAGE_CAPTIONS = {
    "Recherche": "Recherche hybride sans génération",
    "Utilisateurs": "Utilisateurs : ajout",
    "Audit": "Journal d'audit",
}


def go_to(page: Page, label: str) -> None:
    """Open a page from the sidebar and wait until it is drawn (its caption shows)."""
    page.locator('[data-testid="stSidebar"]').get_by_text(label, exact=True).click()
    page.get_by_text(PAGE_CAPTIONS[label]).first.wait_for()
    wait_until_idle(page)


def banner_levels(page: Page) -> list[int]:
    """The banners' levels, top first, once the page holds exactly its two banners (while
    Streamlit redraws, a banner of the run before may linger for a moment)."""
    banners = page.locator(".vigie-banner")
    deadline = time.monotonic() + 30
    while banners.count() != 2 and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    levels = banners.evaluate_all("els => els.map(e => e.dataset.level)")
    return [int(level) for level in levels]


def wait_until_idle(page: Page, timeout: float = 600) -> None:
    """Until the script run ends: Streamlit's status widget hidden, and still hidden a
    moment later (it shows only once a run has lasted a little while)."""
    status = page.locator('[data-testid="stStatusWidget"]')
    deadline = time.monotonic() + timeout
    quiet = 0
    while quiet < 3 and time.monotonic() < deadline:
        page.wait_for_timeout(250)
        quiet = quiet + 1 if not status.is_visible() else 0


def ask(page: Page, question: str) -> list[str]:
    """Ask; return the answer's text as seen while it streamed (each distinct frame)."""
    box = page.get_by_placeholder("Posez votre question (français ou anglais)…")
    box.fill(question)
    box.press("Enter")
    page.get_by_role("button", name="Arrêter la réponse").wait_for(timeout=600_000)
    frames: list[str] = []
    export = page.get_by_role("button", name="Exporter (PDF)")
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        messages = page.locator('[data-testid="stChatMessage"]')
        text = messages.last.inner_text() if messages.count() else ""
        if "▌" in text and (not frames or frames[-1] != text):
            frames.append(text)
        if export.count() and export.last.is_visible():
            break
        page.wait_for_timeout(80)
    wait_until_idle(page)
    return frames


def yellow_pixels(png: bytes) -> int:
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return int(((r > 220) & (g > 190) & (b < 140)).sum())


# -- the tests ------------------------------------------------------------------------------


def test_an_analyst_asks_watches_the_answer_stream_and_checks_the_cited_page(
    open_page: Callable[[], Page], tmp_path: Path
) -> None:
    page = open_page()
    shoot(page, "01-login")
    sign_in(page, ANALYST, ANALYST_PASSWORD)
    assert "SECRET" in page.locator(".vigie-clearance").inner_text()  # own clearance shown
    frames = ask(page, SCANNED_QUESTION)
    answer = page.locator('[data-testid="stChatMessage"]').last
    final = answer.inner_text()
    # The answer streamed: seen unfinished (with the cursor), shorter than at the end.
    assert frames, "the answer was never seen while it streamed"
    assert len(frames[0].replace("▌", "").strip()) < len(final)
    shoot(page, "02-answer")

    # Each cited source is a link from the answer to its panel.
    links = answer.locator('a[href^="#source-0-"]')
    assert links.count() >= 1
    target = links.first.get_attribute("href").removeprefix("#")
    assert page.locator(f"[id='{target}']").count() == 1

    # The banners carry the highest level shown: here, the SECRET note is a source.
    titles = answer.locator('[data-testid="stExpander"] summary').all_inner_texts()
    shown = max(int(Level.parse(t.rsplit("—", 1)[-1].strip().split(" ")[0])) for t in titles
                if "—" in t)  # fmt: skip
    assert banner_levels(page) == [shown, shown]

    # Open the first source: the page itself as an image, the passage highlighted.
    source = answer.locator('[data-testid="stExpander"]').first
    source.locator("summary").click()
    image = source.locator("img").first
    image.wait_for(timeout=60_000)
    served = page.request.get(urljoin(page.url, image.get_attribute("src")))
    assert served.ok and yellow_pixels(served.body()) > 300
    source.scroll_into_view_if_needed()
    shoot(page, "03-source-page")

    # Export: Markdown and PDF, both marked with the answer's level.
    with page.expect_download() as markdown:
        answer.get_by_role("button", name="Exporter (Markdown)").click()
    text = Path(markdown.value.path()).read_text()
    label = text.splitlines()[0].strip("* ")
    assert label and text.rstrip().splitlines()[-1].strip("* ") == label
    with page.expect_download() as pdf:
        answer.get_by_role("button", name="Exporter (PDF)").click()
    pages = PdfReader(pdf.value.path()).pages
    assert all(label in p.extract_text() for p in pages)


def test_the_stop_button_stops_the_answer(
    open_page: Callable[[], Page], browser_home: Path
) -> None:
    page = open_page()
    sign_in(page, ANALYST, ANALYST_PASSWORD)
    box = page.get_by_placeholder("Posez votre question (français ou anglais)…")
    box.fill(LONG_QUESTION)
    box.press("Enter")
    # Pressed while the model reads its sources, before it writes: the run stops at the
    # first word, so the test does not race the end of a short answer.
    page.get_by_role("button", name="Arrêter la réponse").click(timeout=600_000)
    page.get_by_text("Réponse arrêtée.").wait_for(timeout=120_000)
    wait_until_idle(page)
    shoot(page, "12-stopped")
    answers = [r for r in AuditTrail(browser_home / "audit.jsonl").records()
               if r.action == "answer" and r.details["question"] == LONG_QUESTION]  # fmt: skip
    assert answers and answers[-1].details["stopped"] == "cancelled"


def test_a_public_reader_sees_no_banner_above_their_level(
    open_page: Callable[[], Page],
) -> None:
    page = open_page()
    sign_in(page, READER, READER_PASSWORD)
    ask(page, SCANNED_QUESTION)
    assert banner_levels(page) == [0, 0]
    assert SECRET_WORD not in page.content() and SECRET_FILE not in page.content()
    shoot(page, "04-reader-answer")

    go_to(page, "Recherche")
    main(page).get_by_label("Recherche").fill("escorte du croiseur Colbert Dunkerque")
    page.get_by_role("button", name="Rechercher").click()
    main(page).get_by_text("Ouvrir le document").first.wait_for(timeout=120_000)
    wait_until_idle(page)
    assert banner_levels(page) == [0, 0]
    assert SECRET_WORD not in page.content() and SECRET_FILE not in page.content()
    shoot(page, "05-reader-search")


def test_an_analyst_filters_a_search_and_opens_a_document(
    open_page: Callable[[], Page], browser_home: Path
) -> None:
    ledger = Ledger(browser_home / "ledger.sqlite3", read_only=True)
    scanned = {e.file_name for e in ledger.in_state("ingested") if e.ocr_pages}
    ledger.close()
    page = open_page()
    sign_in(page, ANALYST, ANALYST_PASSWORD)
    go_to(page, "Recherche")
    main(page).get_by_label("Recherche").fill("Dunkerque croiseur")
    main(page).get_by_text("Filtres").click()
    types = main(page).locator('[data-testid="stMultiSelect"]').filter(has_text="Type de document")
    option = page.get_by_role("option", name="PDF numérisé (OCR)")
    wait_until_idle(page)  # opening the filters reruns the script, which redraws the list
    for _ in range(5):  # the list opens on click; a rerun under way may close it again
        types.click()
        try:
            option.click(timeout=5_000)
            break
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
            wait_until_idle(page)
    else:
        raise AssertionError("the document type list never stayed open to pick a type")
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Rechercher").click()
    main(page).get_by_text("Ouvrir le document").first.wait_for(timeout=120_000)
    wait_until_idle(page)
    bold = main(page).locator("strong").all_inner_texts()
    ranked = [re.match(r"\d+\. (.+)", text) for text in bold]
    files = [match.group(1) for match in ranked if match]
    assert files and set(files) <= scanned, (files, scanned)
    shoot(page, "06-search-filtered")

    main(page).get_by_text("Ouvrir le document").first.click()
    main(page).get_by_text("Texte extrait").first.wait_for(timeout=120_000)
    wait_until_idle(page)
    assert main(page).locator('[data-testid="stImage"] img').count() >= 1
    shoot(page, "07-document")


def test_an_operator_runs_a_small_ingestion_and_sees_the_quarantine(
    open_page: Callable[[], Page], import_root: Path
) -> None:
    page = open_page()
    sign_in(page, OPERATOR, OPERATOR_PASSWORD)
    main(page).get_by_label("Dossier sur le serveur").fill(str(import_root / "lot-navigateur"))
    page.get_by_role("button", name="Lancer l'ingestion").click()
    main(page).get_by_text("terminé :").wait_for(timeout=600_000)
    retry = page.get_by_role("button", name="Réessayer", exact=True)
    retry.wait_for(timeout=60_000)
    wait_until_idle(page)
    assert main(page).locator('[data-testid="stProgress"]').count() == 1
    body = main(page).inner_text()
    assert "abime.pdf" in body and "Quarantaine" in body and "corrupt PDF" in body
    shoot(page, "08-ingestion")
    retry.click()  # the broken file alone, read again: still quarantined, and said so
    report = main(page).get_by_text("terminé : en quarantaine 1")
    report.wait_for(timeout=120_000)
    wait_until_idle(page)
    assert main(page).get_by_text("abime.pdf — en quarantaine :").count() == 1
    shoot(page, "08b-ingestion-retry")


def test_an_admin_manages_users_verifies_the_audit_trail_and_switches_to_english(
    open_page: Callable[[], Page],
) -> None:
    page = open_page()
    sign_in(page, ADMIN, ADMIN_PASSWORD)
    go_to(page, "Utilisateurs")
    main(page).get_by_text(READER, exact=True).first.wait_for(timeout=60_000)
    shoot(page, "09-users")
    go_to(page, "Audit")
    page.get_by_role("button", name="Vérifier la chaîne").click()
    main(page).get_by_text("Journal d'audit intact").wait_for(timeout=60_000)
    wait_until_idle(page)
    shoot(page, "10-audit")
    page.locator('[data-testid="stSidebar"]').get_by_text("English", exact=True).click()
    main(page).get_by_text("Audit trail intact").wait_for(timeout=60_000)
    shoot(page, "11-audit-english")
