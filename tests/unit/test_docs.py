"""The documentation cannot drift from the code it describes.

The configuration reference (docs/configuration.md) has one row per field of
`vigie.config.Settings`, and no row for anything else; every relative Markdown
link in README.md and docs/*.md names a file that exists.
"""

from __future__ import annotations

import re
from pathlib import Path

from vigie.config import Settings

# The repository root: the folder above this file that holds pyproject.toml.
ROOT = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())
DOCS = ROOT / "docs"
ROW = re.compile(r"^\| `([^`]+)` \|", re.MULTILINE)
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def test_configuration_reference_has_one_row_per_setting() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    keys = ROW.findall(text)
    fields = list(Settings.model_fields)
    missing = [name for name in fields if name not in keys]
    unknown = [key for key in keys if key not in Settings.model_fields]
    assert not missing, f"settings without a row in docs/configuration.md: {missing}"
    assert not unknown, f"rows of docs/configuration.md that are not settings: {unknown}"
    assert keys == fields, "docs/configuration.md lists the settings twice or out of order"


def test_relative_links_point_to_existing_files() -> None:
    broken: list[str] = []
    checked = 0
    for document in documents():
        text = FENCE.sub("", document.read_text(encoding="utf-8"))
        for target in LINK.findall(text):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue  # a URL or an anchor in the same page
            path = target.split("#", 1)[0]
            checked += 1
            if not (document.parent / path).exists():
                broken.append(f"{document.relative_to(ROOT)}: {target}")
    assert checked, "no relative link found: the pattern no longer matches"
    assert not broken, f"links to missing files: {broken}"
