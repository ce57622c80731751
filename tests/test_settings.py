"""Configuration as an operator writes it: environment variables and .env."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.actor import configured_admin
from bot.settings import Settings


def test_admin_lists_are_comma_separated_in_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOCVUSO_ADMIN_IDS", "console:local, telegram:111")
    monkeypatch.setenv("TELEGRAM_ADMIN_IDS", "555,666")
    monkeypatch.setenv("ZALO_ADMIN_IDS", "z-1")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.admin_ids == ["console:local", "telegram:111"]
    assert configured_admin(settings, "telegram", "666")
    assert configured_admin(settings, "zalo_oa", "z-1")
    assert not configured_admin(settings, "telegram", "777")


def test_env_file_is_read(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(
        "HOCVUSO_DATA_DIR=/srv/hocvuso\nTELEGRAM_ADMIN_IDS=1;2\nQUIET_HOURS=22:00-06:00\n",
        encoding="utf-8",
    )
    settings = Settings(_env_file=env)  # type: ignore[call-arg]
    assert settings.data_dir == Path("/srv/hocvuso")
    assert settings.telegram_admin_ids == ["1", "2"]
    assert settings.quiet_hours == "22:00-06:00"


def test_every_setting_is_documented_in_env_example() -> None:
    example = (Path(__file__).resolve().parents[1] / ".env.example").read_text(encoding="utf-8")
    for field in Settings.model_fields.values():
        assert field.alias and field.alias in example, field.alias
