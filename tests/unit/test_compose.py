"""docker-compose.yml parses and says what the README says (no Docker engine runs here)."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_compose_file_runs_ui_and_a_pinned_qdrant_on_loopback() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"qdrant", "vigie"}

    qdrant = services["qdrant"]
    image, _, tag = qdrant["image"].partition(":")
    assert image == "qdrant/qdrant" and tag not in ("", "latest")
    assert qdrant["environment"]["QDRANT__TELEMETRY_DISABLED"] == "true"
    assert "QDRANT_API_KEY" in qdrant["environment"]["QDRANT__SERVICE__API_KEY"]
    assert any(v.startswith("qdrant-data:") for v in qdrant["volumes"])

    vigie = services["vigie"]
    assert vigie["environment"]["VIGIE_QDRANT_URL"] == "http://qdrant:6333"
    assert "QDRANT_API_KEY" in vigie["environment"]["VIGIE_QDRANT_API_KEY"]
    assert vigie["environment"]["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] == "false"

    for service in services.values():
        for port in service["ports"]:
            assert port.startswith("127.0.0.1:"), port
    assert set(compose["volumes"]) == {"qdrant-data", "vigie-data"}


def test_readme_documents_the_compose_services() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    readme = "\n".join(page.read_text() for page in pages)
    assert "docker compose" in readme
    assert "QDRANT_API_KEY" in readme
