"""The Streamlit app, driven by Streamlit's AppTest over a real ingested store."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT, SCANNED_DOC, SCANNED_QUESTION

APP = str(ROOT / "ui" / "app.py")


@pytest.fixture(scope="module")
def ui_home(sample_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The app keeps the embedded store open (and locked) for the life of this process:
    # give it its own copy so the CLI tests keep theirs.
    home = tmp_path_factory.mktemp("ui") / "home"
    shutil.copytree(sample_home, home)
    return home


@pytest.fixture()
def app_env(ui_home: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIE_HOME", str(ui_home))
    monkeypatch.setenv("VIGIE_MODELS_DIR", str(models_dir))


def test_ui_shows_question_box_and_clearance_banner(app_env: None) -> None:
    at = AppTest.from_file(APP, default_timeout=300).run()
    assert not at.exception
    assert at.title[0].value == "Vigie"
    assert at.text_input[0].label.startswith("Question")
    banners = [m.value for m in at.markdown if "NON PROTÉGÉ" in m.value]
    assert len(banners) == 2  # top and bottom of the page


def test_ui_answers_and_lists_cited_pages(app_env: None) -> None:
    at = AppTest.from_file(APP, default_timeout=600).run()
    at.text_input[0].input(SCANNED_QUESTION)
    at.button[0].click().run()
    assert not at.exception
    assert any(s.value == "Réponse" for s in at.subheader)
    labels = [e.label for e in at.expander]
    assert any(label.startswith("[") and SCANNED_DOC in label for label in labels), labels
    assert os.environ["VIGIE_HOME"]
