"""Settings: defaults, the TOML file, MIDST_* variables and the ORCH_* aliases."""

from __future__ import annotations

from pathlib import Path

import pytest

from midst_desktop.config import ConfigError, load_settings


def test_data_dir_puts_every_path_inside_it(tmp_path: Path) -> None:
    settings = load_settings(data_dir=str(tmp_path), environ={})
    for path in (settings.config_dir, settings.log_dir, settings.cache_dir):
        assert tmp_path in path.parents
    assert settings.database_url == f"sqlite:///{tmp_path / 'midst.db'}"


def test_the_operations_guide_names_are_aliases(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=str(tmp_path),
        environ={
            "ORCH_ARTIFACT_BATCH_SIZE": "50",
            "ORCH_PARALLEL_DOWNLOADS": "1",
            "ORCH_WORKER_COUNT": "8",
            "ORCH_ARTIFACT_MAX_FILE_SIZE": "250",
            "ORCH_SCHEDULER_ENABLED": "false",
        },
    )
    assert settings.batch_size == 50
    assert settings.parallel_downloads == 1
    assert settings.worker_count == 8
    assert settings.max_file_size_mb == 250
    assert settings.scheduler_enabled is False


def test_our_own_names_win_over_the_aliases(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=str(tmp_path),
        environ={"ORCH_WORKER_COUNT": "8", "MIDST_WORKER_COUNT": "2"},
    )
    assert settings.worker_count == 2


def test_the_toml_file_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.toml").write_text(
        'batch_size = 250\nworker_count = 3\nlog_level = "debug"\n'
    )
    settings = load_settings(
        data_dir=str(tmp_path), environ={"MIDST_WORKER_COUNT": "5"}
    )
    assert settings.batch_size == 250
    assert settings.worker_count == 5
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"MIDST_BATCH_SIZE": "many"}, "MIDST_BATCH_SIZE must be a whole number"),
        ({"ORCH_WORKER_COUNT": "0"}, "ORCH_WORKER_COUNT must be between"),
        ({"ORCH_SCHEDULER_ENABLED": "perhaps"}, "must be true or false"),
    ],
)
def test_a_bad_value_is_refused_with_its_name(
    tmp_path: Path, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(data_dir=str(tmp_path), environ=environ)


def test_a_broken_toml_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.toml").write_text("batch_size = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(data_dir=str(tmp_path), environ={})


def test_a_client_secret_in_the_toml_file_is_refused_and_not_repeated(
    tmp_path: Path,
) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.toml").write_text(
        'google_client_id = "app.example"\ngoogle_client_secret = "GOCSPX-hush"\n'
    )
    with pytest.raises(ConfigError) as refused:
        load_settings(data_dir=str(tmp_path), environ={})
    message = str(refused.value)
    assert "MIDST_GOOGLE_CLIENT_SECRET" in message and "\n" not in message
    assert "GOCSPX-hush" not in message


def test_the_client_secret_comes_from_the_environment(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.toml").write_text('google_client_id = "app"\n')
    settings = load_settings(
        data_dir=str(tmp_path), environ={"MIDST_GOOGLE_CLIENT_SECRET": "GOCSPX-env"}
    )
    assert (settings.google_client_id, settings.google_client_secret) == (
        "app",
        "GOCSPX-env",
    )
