from __future__ import annotations

from pathlib import Path

import pytest

from revsearch.config import Settings, data_home, documented_settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = README.read_text()
    for name, env, help_text in documented_settings():
        assert help_text, name
        assert f"`{env}`" in readme, f"{env} is not documented in README.md"


def test_environment_and_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REVSEARCH_CATALOG", str(tmp_path / "env-catalog"))
    monkeypatch.setenv("REVSEARCH_THREADS", "3")
    settings = Settings.from_env()
    assert settings.catalog == tmp_path / "env-catalog" and settings.threads == 3
    overridden = Settings.from_env(catalog=tmp_path / "cli", threads=None)
    assert overridden.catalog == tmp_path / "cli" and overridden.threads == 3


def test_default_catalog_lives_in_the_user_data_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("REVSEARCH_CATALOG", raising=False)
    monkeypatch.delenv("REVSEARCH_HOME", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert data_home() == tmp_path / "revsearch"
    assert Settings.from_env().catalog == tmp_path / "revsearch" / "catalog"


def test_config_file_is_below_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "revsearch.toml"
    config.write_text('[revsearch]\ncatalog = "/data/cars"\nthreads = 4\n')
    monkeypatch.setenv("REVSEARCH_CONFIG", str(config))
    monkeypatch.delenv("REVSEARCH_CATALOG", raising=False)
    monkeypatch.delenv("REVSEARCH_THREADS", raising=False)
    assert Settings.from_env().catalog == Path("/data/cars")
    monkeypatch.setenv("REVSEARCH_THREADS", "1")
    assert Settings.from_env().threads == 1


def test_bad_settings_are_clear_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from revsearch.errors import BadParameterError

    monkeypatch.setenv("REVSEARCH_THREADS", "many")
    with pytest.raises(BadParameterError, match="REVSEARCH_THREADS"):
        Settings.from_env()
    monkeypatch.delenv("REVSEARCH_THREADS")
    monkeypatch.setenv("REVSEARCH_SEARCH_EF", "0")
    with pytest.raises(BadParameterError, match="REVSEARCH_SEARCH_EF: bad value '0'"):
        Settings.from_env()
    monkeypatch.delenv("REVSEARCH_SEARCH_EF")
    config = tmp_path / "c.toml"
    config.write_text("colour = 'red'\n")
    monkeypatch.setenv("REVSEARCH_CONFIG", str(config))
    with pytest.raises(BadParameterError, match="colour"):
        Settings.from_env()
    monkeypatch.setenv("REVSEARCH_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(BadParameterError, match="no such file"):
        Settings.from_env()
