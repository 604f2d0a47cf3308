"""The project directory: `heartbeat.toml` marks it, beside `sources.toml`, `metric_defs/` and `audit_cuts/`.

Found from `HEARTBEAT_PROJECT` (the CLI's global `--project-dir` sets it) or else from the current directory
upwards, as git finds `.git`. `heartbeat.toml` holds what belongs to the project and not to one machine:
the timezone, the name of the variable with the marts URL, the schedules, the alert channels (secrets only by
the name of the variable that holds them). `HEARTBEAT_*` environment variables override every key.

    timezone = "Europe/Berlin"
    database_url_env = "SHOP_MARTS_URL"     # default HEARTBEAT_DATABASE_URL; unset → the embedded server
    public_url = "https://heartbeat.example.com"

    [schedules]
    recompute = "17 * * * *"
    typical = "23 4 * * *"
    audit = "45 4 * * *"

    [channels]
    slack_webhook_url_env = "SLACK_WEBHOOK_URL"
    telegram_bot_token_env = "TELEGRAM_BOT_TOKEN"
    telegram_chat_id = "-100123"
    webhook_url = "https://hooks.example.com/heartbeat"
    webhook_secret_env = "HEARTBEAT_WEBHOOK_SECRET"
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MARKER = "heartbeat.toml"
PROJECT_ENV = "HEARTBEAT_PROJECT"


class ProjectError(ValueError):
    """No project, or a `heartbeat.toml` we cannot use; the message names the file/key or what was searched."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Schedules(_Strict):
    recompute: str | None = None
    typical: str | None = None
    audit: str | None = None


class Channels(_Strict):
    slack_webhook_url_env: str | None = None
    telegram_bot_token_env: str | None = None
    telegram_chat_id: str | None = None
    webhook_url: str | None = None
    webhook_secret_env: str | None = None


class ProjectConfig(_Strict):
    """The keys of `heartbeat.toml`; an unknown key is an error naming it."""

    timezone: str | None = None
    database_url_env: str | None = None
    public_url: str | None = None
    # warehouse mode (docs/scale-out.md): e.g. "duckdb:///srv/marts.duckdb"; a URL with a password belongs in
    # HEARTBEAT_WAREHOUSE_URL, not here
    warehouse_url: str | None = None
    schedules: Schedules = Field(default_factory=Schedules)
    channels: Channels = Field(default_factory=Channels)


@dataclass(frozen=True)
class Project:
    root: Path
    config: ProjectConfig
    found_by: str  # "HEARTBEAT_PROJECT" or "search from <dir>"

    @property
    def metric_defs(self) -> Path:
        return self.root / "metric_defs"

    @property
    def audit_cuts(self) -> Path:
        return self.root / "audit_cuts"

    @property
    def sources(self) -> Path:
        return self.root / "sources.toml"


def load_config(path: Path) -> ProjectConfig:
    """Parse one `heartbeat.toml`; errors name the file and the key."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProjectError(f"{path}: cannot read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProjectError(f"{path}: not valid TOML ({exc})") from None
    try:
        return ProjectConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ProjectError(f"{path}: {where}: {first['msg']}") from None


def search_upwards(start: Path) -> Path | None:
    """The nearest directory from `start` upwards that holds a `heartbeat.toml`."""
    here = start.resolve()
    for directory in (here, *here.parents):
        if (directory / MARKER).is_file():
            return directory
    return None


def find_project(cwd: Path | None = None) -> Project | None:
    """`HEARTBEAT_PROJECT` if set (it must hold a `heartbeat.toml`), else the search upwards; None when neither."""
    explicit = os.environ.get(PROJECT_ENV, "").strip()
    if explicit:
        root = Path(explicit).expanduser().resolve()
        if not (root / MARKER).is_file():
            raise ProjectError(
                f"{PROJECT_ENV}/--project-dir names {root}, which has no {MARKER} "
                f"(create a project there with `heartbeat init {root}`)"
            )
        return Project(root, load_config(root / MARKER), PROJECT_ENV)
    start = cwd or Path.cwd()
    found = search_upwards(start)
    if found is None:
        return None
    return Project(found, load_config(found / MARKER), f"search from {start}")


def missing_project_message(cwd: Path | None = None, demo_dir: Path | None = None) -> str:
    """What was searched and how to fix it, in one line."""
    start = (cwd or Path.cwd()).resolve()
    hint = f" (the demo project: --project-dir {demo_dir})" if demo_dir else ""
    return (
        f"no project: no {MARKER} in {start} or any parent, and neither --project-dir nor {PROJECT_ENV} "
        f"is set; create one with `heartbeat init DIR`, or pass --project-dir DIR{hint}"
    )
