"""The project directory: found by `heartbeat.toml` upwards or named, its keys under the environment's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from heartbeat_core.project import PROJECT_ENV, ProjectError, find_project, load_config
from heartbeat_core.settings import ProjectMissing, SettingsError, get_settings, reset_settings
from heartbeat_demo import PROJECT_DIR

HEARTBEAT = str(Path(sys.executable).parent / "heartbeat")


def _project(root: Path, toml: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "heartbeat.toml").write_text(toml, encoding="utf-8")
    return root


@pytest.fixture
def no_project(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (PROJECT_ENV, "HEARTBEAT_TIMEZONE", "HEARTBEAT_DATABASE_URL", "HEARTBEAT_METRIC_DEFS"):
        monkeypatch.delenv(name, raising=False)
    reset_settings()


def test_found_from_a_subdirectory_upwards(
    tmp_path: Path, no_project: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _project(tmp_path / "shop", 'timezone = "Europe/Berlin"\n')
    nested = root / "metric_defs" / "deep"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    settings = get_settings()
    assert settings.project is not None and settings.project.root == root.resolve()
    assert settings.metric_defs == root.resolve() / "metric_defs"
    assert settings.sources == root.resolve() / "sources.toml"
    assert settings.timezone == "Europe/Berlin"


def test_environment_overrides_the_toml(
    tmp_path: Path, no_project: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _project(
        tmp_path / "p",
        'timezone = "Europe/Berlin"\ndatabase_url_env = "SHOP_MARTS"\n[schedules]\nrecompute = "5 * * * *"\n'
        '[channels]\nslack_webhook_url_env = "SHOP_SLACK"\n',
    )
    monkeypatch.setenv(PROJECT_ENV, str(root))
    monkeypatch.setenv("SHOP_MARTS", "postgresql://u@h/marts")
    monkeypatch.setenv("SHOP_SLACK", "https://hooks.slack.test/x")
    monkeypatch.setenv("HEARTBEAT_TIMEZONE", "Asia/Tokyo")
    reset_settings()
    settings = get_settings()
    assert settings.timezone == "Asia/Tokyo"
    assert settings.database_url == "postgresql://u@h/marts"
    assert settings.schedule_recompute == "5 * * * *"
    assert settings.slack_webhook_url == "https://hooks.slack.test/x"
    monkeypatch.setenv("HEARTBEAT_DATABASE_URL", "postgresql://other@h/m")
    monkeypatch.setenv("HEARTBEAT_METRIC_DEFS", str(tmp_path / "elsewhere"))
    reset_settings()
    assert get_settings().database_url == "postgresql://other@h/m"
    assert get_settings().metric_defs == tmp_path / "elsewhere"


def test_named_project_wins_over_the_search(
    tmp_path: Path, no_project: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = _project(tmp_path / "here")
    monkeypatch.chdir(here)
    monkeypatch.setenv(PROJECT_ENV, str(PROJECT_DIR))
    found = find_project()
    assert found is not None and found.root == PROJECT_DIR.resolve() and found.found_by == PROJECT_ENV


def test_a_named_directory_without_toml_and_a_typo_are_clear(
    tmp_path: Path, no_project: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PROJECT_ENV, str(tmp_path))
    with pytest.raises(ProjectError, match=r"has no heartbeat.toml .*heartbeat init"):
        find_project()
    bad = _project(tmp_path / "typo", '[schedules]\nrecompte = "5 * * * *"\n')
    with pytest.raises(ProjectError, match=r"heartbeat.toml: schedules.recompte: Extra inputs"):
        load_config(bad / "heartbeat.toml")
    monkeypatch.setenv(PROJECT_ENV, str(bad))
    reset_settings()
    with pytest.raises(SettingsError, match="recompte"):
        get_settings()


def test_without_a_project_the_files_are_missing_not_guessed(
    tmp_path: Path, no_project: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = get_settings()
    assert settings.project is None
    with pytest.raises(ProjectMissing, match=r"no heartbeat.toml in .* or any parent"):
        _ = settings.metric_defs


def test_cli_says_what_was_searched_and_how_to_fix(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEARTBEAT_")}
    env["HEARTBEAT_HOME"] = str(tmp_path / "home")
    done = subprocess.run(
        [HEARTBEAT, "sync"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    line = done.stderr.strip()
    assert line.count("\n") == 0, line
    assert f"no heartbeat.toml in {tmp_path.resolve()} or any parent" in line
    assert "heartbeat init DIR" in line and f"--project-dir {PROJECT_DIR}" in line
    # the global option and `skills install --project` live side by side
    installed = subprocess.run(
        [HEARTBEAT, "--project-dir", str(PROJECT_DIR), "skills", "install", "--project", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert installed.returncode == 0, installed.stderr
    assert (tmp_path / ".claude" / "skills").is_dir()
