"""Settings come from STOCKER_* variables (over a `.env` file) and pick the servers to use."""

from __future__ import annotations

from pathlib import Path

import pytest

from stocker.bootstrap import build
from stocker.config import Credentials, Settings
from stocker.store.db import database_url

VARIABLES = ("STOCKER_DATABASE_URL", "STOCKER_REDIS_URL", "STOCKER_HOME", "STOCKER_STREAM_PREFIX")


@pytest.fixture(autouse=True)
def clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_settings_when_variables_are_set_use_them_without_starting_servers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "data"
    monkeypatch.setenv("STOCKER_DATABASE_URL", "postgres://trader:secret@db.example:6543/stocker")
    monkeypatch.setenv("STOCKER_REDIS_URL", "redis://cache.example:6380/2")
    monkeypatch.setenv("STOCKER_HOME", str(home))

    settings = Settings()

    assert settings.home == home
    assert database_url(settings) == "postgresql+psycopg://trader:secret@db.example:6543/stocker"
    assert build(settings).redis_url == "redis://cache.example:6380/2"
    assert not home.exists()


def test_settings_when_nothing_is_set_mean_embedded_servers_under_the_home_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))

    settings = Settings()

    assert (settings.database_url, settings.redis_url) == (None, None)
    assert settings.home == tmp_path / ".stocker"


def test_settings_when_dotenv_file_and_variable_disagree_take_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text(
        "STOCKER_HOME=/srv/stocker\nSTOCKER_REDIS_URL=redis://from-dotenv:6379/0\n"
    )
    monkeypatch.setenv("STOCKER_REDIS_URL", "redis://from-environment:6379/0")

    settings = Settings()

    assert settings.home == Path("/srv/stocker")
    assert settings.redis_url == "redis://from-environment:6379/0"


def test_credentials_when_set_under_vendor_names_reach_the_app_and_stay_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ALPACA_API_KEY", "AKID123")
    monkeypatch.setenv("STOCKER_ALPACA_SECRET_KEY", "s3cr3t-value")

    settings = Settings()
    app = build(settings)

    assert app.credentials("alpaca") == Credentials("AKID123", "s3cr3t-value")
    assert app.credentials("kite") is None
    assert "s3cr3t-value" not in repr(settings) and "s3cr3t-value" not in str(settings)


def test_app_when_built_starts_nothing_until_a_service_is_asked_for(tmp_path: Path) -> None:
    app = build(Settings(home=tmp_path / "home"))

    app.close()

    assert not (tmp_path / "home").exists()
    assert "engine" not in app.__dict__ and "redis" not in app.__dict__
