"""A recording in the real browser: found by its spoken words, opened on a player that
starts at the passage's second, and played from a later segment on a click. The same
server, browser and outside-request guard as test_browser.py, over a home of its own."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.browser.test_browser import (  # noqa: F401  (fixtures, used by name)
    ANALYST,
    ANALYST_PASSWORD,
    browser,
    go_to,
    main,
    open_page,
    server,
    shoot,
    sign_in,
    wait_until_idle,
)
from tests.conftest import ROOT, add_user, run_vigie
from vigie.contracts import Level

AUDIO = ROOT.parent / "shared" / "corpus" / "audio"


@pytest.fixture(scope="module")
def import_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("no-arrivals")


@pytest.fixture(scope="module")
def browser_home(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Path:
    """A home holding one real French recording (its speech starts 2.7 s in)."""
    batch = tmp_path_factory.mktemp("recordings")
    shutil.copy(AUDIO / "fr" / "fleurs-fr-001.ogg", batch / "declaration.ogg")
    home = tmp_path_factory.mktemp("browser-recordings") / "home"
    fed = run_vigie(["ingest", str(batch), "--level", "NON PROTÉGÉ"], home, models_dir)
    assert fed.returncode == 0, fed.stderr
    add_user(home, ANALYST, "analyst", Level.SECRET, (), ANALYST_PASSWORD)
    return home


def playing_at(page: Page) -> float:
    """The player's position once it knows the recording (its metadata loaded)."""
    page.wait_for_function(
        "() => { const a = document.querySelector('audio'); return a && a.readyState >= 1 }"
    )
    return float(page.locator("audio").evaluate("a => a.currentTime"))


def seconds(label: str) -> int:
    minutes, secs = re.match(r"(\d\d):(\d\d)", label).groups()  # type: ignore[union-attr]
    return int(minutes) * 60 + int(secs)


def test_a_recording_found_by_its_words_plays_from_the_second_a_segment_names(
    open_page,  # noqa: F811
) -> None:
    page = open_page()
    sign_in(page, ANALYST, ANALYST_PASSWORD)
    go_to(page, "Recherche")
    main(page).get_by_label("Recherche").fill("comité olympique des États-Unis")
    page.get_by_role("button", name="Rechercher").click()
    main(page).get_by_text("Ouvrir le document").first.wait_for(timeout=120_000)
    wait_until_idle(page)
    first = main(page).locator("strong").filter(has_text="declaration.ogg").first
    assert first.count() == 1
    assert re.search(r"declaration\.ogg\*?\*? — 00:0\d-00:\d\d", main(page).inner_text())
    main(page).get_by_text("Ouvrir le document").first.click()
    page.locator("audio").wait_for(state="attached", timeout=120_000)
    wait_until_idle(page)
    segments = main(page).get_by_role("button").filter(has_text=re.compile(r"^\d\d:\d\d"))
    assert segments.count() >= 2
    start = seconds(segments.first.inner_text())
    assert start >= 2 and abs(playing_at(page) - start) < 1.0  # where the speech starts
    shoot(page, "recording-01-opened")
    later = segments.last
    target = seconds(later.inner_text())
    assert target > start
    later.click()
    wait_until_idle(page)
    page.wait_for_function(
        f"() => {{ const a = document.querySelector('audio');"
        f" return a && a.readyState >= 1 && Math.abs(a.currentTime - {target}) < 1 }}"
    )
    shoot(page, "recording-02-seeked")
