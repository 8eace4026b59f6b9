"""One configuration object: defaults, the TOML file, VIGIE_* variables, in that order."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigie.config import ConfigError, load_settings
from vigie.contracts import Clearance, Level


def test_toml_file_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "vigie.toml"
    config.write_text('top_k = 7\nqdrant_url = "https://qdrant.example:6333"\nn_gpu_layers = -1\n')
    monkeypatch.setenv("VIGIE_TOP_K", "9")
    settings = load_settings(config, home=tmp_path / "home")
    assert settings.top_k == 9  # the environment wins over the file
    assert settings.qdrant_url == "https://qdrant.example:6333"
    assert settings.n_gpu_layers == -1
    assert settings.store_path == tmp_path / "home" / "qdrant"
    assert settings.resolved_llm_path.parent == tmp_path / "home" / "models"


def test_home_holds_everything_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIE_HOME", str(tmp_path / "h"))
    monkeypatch.delenv("VIGIE_MODELS_DIR", raising=False)
    settings = load_settings()
    for path in (settings.store_path, settings.ledger_path, settings.resolved_embedder_path):
        assert path.is_relative_to(tmp_path / "h")


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nope.toml"):
        load_settings(tmp_path / "nope.toml")


def test_an_unknown_key_is_refused_with_the_nearest_one(tmp_path: Path) -> None:
    config = tmp_path / "vigie.toml"
    config.write_text('top_k = 5\nserch_mode = "dense"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown setting 'serch_mode'.*'search_mode'"):
        load_settings(config, home=tmp_path / "home")
    config.write_text('fusoin = "rrf"\nzzz_qqq = 1\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="'fusoin'.*did you mean 'fusion'"):
        load_settings(config, home=tmp_path / "home")


@pytest.mark.parametrize(
    ("line", "key"),
    [('search_mode = "fast"', "search_mode"), ('fusion = "sum"', "fusion"),
     ('quantization = "int4"', "quantization"), ("top_k = 'many'", "top_k")],
)  # fmt: skip
def test_a_value_of_the_wrong_kind_names_its_key(tmp_path: Path, line: str, key: str) -> None:
    config = tmp_path / "vigie.toml"
    config.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=f"setting {key} in") as error:
        load_settings(config, home=tmp_path / "home")
    assert len(str(error.value).splitlines()) == 1


@pytest.mark.parametrize(
    ("written", "level"),
    [
        ("Très Secret Défense", Level.TRES_SECRET),
        ("CONFIDENTIEL DÉFENSE", Level.SECRET),
        ("nato restricted", Level.DIFFUSION_RESTREINTE),
        ("Non protégé", Level.NON_PROTEGE),
        ("COSMIC TOP SECRET", Level.TRES_SECRET),
    ],
)
def test_levels_parse_as_written_in_markings(written: str, level: Level) -> None:
    assert Level.parse(written) is level


def test_clearance_needs_level_and_every_caveat() -> None:
    analyst = Clearance(Level.SECRET, frozenset({"SPÉCIAL FRANCE"}))
    assert analyst.allows(Level.DIFFUSION_RESTREINTE, [])
    assert analyst.allows(Level.SECRET, ["SPÉCIAL FRANCE"])
    assert not analyst.allows(Level.TRES_SECRET, [])
    assert not analyst.allows(Level.SECRET, ["OTHER"])
