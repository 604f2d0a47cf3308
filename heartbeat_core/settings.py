"""Settings from the environment (`HEARTBEAT_*`) over the project's `heartbeat.toml`, read in one place.

The project directory (`heartbeat_core.project`) supplies `metric_defs/`, `audit_cuts/`, `sources.toml` and
the project-level defaults (timezone, marts URL variable, schedules, channels); every `HEARTBEAT_*` variable
overrides its key.

Every other module asks `get_settings()`; tests override by setting environment variables and
calling `reset_settings()`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from heartbeat_core.project import Project, ProjectConfig, ProjectError, find_project, missing_project_message


class SettingsError(ValueError):
    """A setting has a value we cannot use; the message names the variable."""


class ProjectMissing(SettingsError):
    """A command needs the project's files but no project directory was found; the message says how to fix."""


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def _float(name: str, default: float) -> float:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r}: expected a number") from None


def _int(name: str, default: int) -> int:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r}: expected an integer") from None


def _duration_seconds(name: str, default: float) -> float:
    """Accepts `60`, `60s`, `500ms`, `2min`."""
    raw = _env(name)
    if raw is None:
        return default
    text = raw.lower().replace(" ", "")
    units = {"ms": 0.001, "s": 1.0, "sec": 1.0, "min": 60.0, "m": 60.0, "h": 3600.0}
    for suffix in sorted(units, key=len, reverse=True):
        if text.endswith(suffix):
            number = text[: -len(suffix)]
            try:
                return float(number) * units[suffix]
            except ValueError:
                break
    try:
        return float(text)
    except ValueError:
        raise SettingsError(f"{name}={raw!r}: expected a duration such as 60s, 500ms or 2min") from None


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str | None
    timezone: str
    api_token: str | None
    project: Project | None
    metric_defs_override: Path | None
    audit_cuts_override: Path | None
    sources_override: Path | None
    metric_statement_timeout_s: float
    compute_parallelism: int
    schedule_recompute: str
    schedule_typical: str
    schedule_audit: str
    cockpit_refresh_s: float
    public_url: str
    slack_webhook_url: str | None
    telegram_bot_token: str | None
    telegram_chat_id: str | None
    telegram_api_url: str
    webhook_url: str | None
    webhook_secret: str | None
    # credentials (issue 15): whether display keys see culprit names and amounts
    display_detail: bool = False
    extra: dict[str, str] = field(default_factory=dict)
    # entities (issue 13): keys recorded per metric-day, and the weight growth that makes an entity `worse`
    entity_cap: int = 10_000
    entity_worse_share: float = 0.2
    # rollups (issue 19): `rollups/` beside `metric_defs/` unless HEARTBEAT_ROLLUPS names another directory
    rollups_override: Path | None = None
    # shared SQL fragments (`-- @include <name>`): `shared_sql/` beside `metric_defs/` unless HEARTBEAT_SHARED_SQL
    shared_sql_override: Path | None = None
    # warehouse mode (issue 17): the engine that holds the marts; None = the read-model Postgres (today)
    warehouse_url: str | None = None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def embedded(self) -> bool:
        return self.database_url is None

    # The project's files; HEARTBEAT_METRIC_DEFS, HEARTBEAT_AUDIT_CUTS and HEARTBEAT_SOURCES override each.
    # Without a project and without the override, asking for one raises ProjectMissing (what was searched).
    @property
    def metric_defs(self) -> Path:
        return self.metric_defs_override or self._project_root() / "metric_defs"

    @property
    def audit_cuts(self) -> Path:
        return self.audit_cuts_override or self._project_root() / "audit_cuts"

    @property
    def rollups(self) -> Path:
        return self.rollups_override or self.metric_defs.parent / "rollups"

    @property
    def shared_sql(self) -> Path:
        return self.shared_sql_override or self.metric_defs.parent / "shared_sql"

    @property
    def sources(self) -> Path:
        return self.sources_override or self._project_root() / "sources.toml"

    def _project_root(self) -> Path:
        if self.project is None:
            raise ProjectMissing(missing_project_message())
        return self.project.root


def _path(name: str) -> Path | None:
    raw = _env(name)
    return Path(raw).expanduser() if raw else None


def _project() -> tuple[Project | None, ProjectConfig]:
    try:
        project = find_project()
    except ProjectError as exc:
        raise SettingsError(str(exc)) from None
    return project, project.config if project else ProjectConfig()


def _database_url(config: ProjectConfig) -> str | None:
    """HEARTBEAT_DATABASE_URL, else the variable `heartbeat.toml` names; unset → the embedded server."""
    url = _env("HEARTBEAT_DATABASE_URL")
    if url is None and config.database_url_env:
        url = _env(config.database_url_env)
    return url


def _secret(name: str, config_env: str | None) -> str | None:
    """A secret from its HEARTBEAT_* variable, else from the variable `heartbeat.toml` names for it."""
    return _env(name) or (_env(config_env) if config_env else None)


def load_settings() -> Settings:
    project, config = _project()
    channels, schedules = config.channels, config.schedules
    home = Path(
        _env("HEARTBEAT_HOME", str(Path.home() / ".local" / "share" / "heartbeat")) or ""
    ).expanduser()
    timezone = _env("HEARTBEAT_TIMEZONE", config.timezone or "UTC") or "UTC"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(
            f"HEARTBEAT_TIMEZONE={timezone!r}: expected an IANA zone such as Europe/Berlin"
        ) from None
    parallelism = _int("HEARTBEAT_COMPUTE_PARALLELISM", 4)
    if parallelism < 1:
        raise SettingsError(f"HEARTBEAT_COMPUTE_PARALLELISM={parallelism}: expected at least 1")
    return Settings(
        home=home,
        database_url=_database_url(config),
        timezone=timezone,
        api_token=_env("HEARTBEAT_API_TOKEN"),
        project=project,
        metric_defs_override=_path("HEARTBEAT_METRIC_DEFS"),
        audit_cuts_override=_path("HEARTBEAT_AUDIT_CUTS"),
        rollups_override=_path("HEARTBEAT_ROLLUPS"),
        shared_sql_override=_path("HEARTBEAT_SHARED_SQL"),
        sources_override=_path("HEARTBEAT_SOURCES"),
        metric_statement_timeout_s=_duration_seconds("HEARTBEAT_METRIC_STATEMENT_TIMEOUT", 60.0),
        compute_parallelism=parallelism,
        schedule_recompute=_env("HEARTBEAT_SCHEDULE_RECOMPUTE", schedules.recompute or "17 * * * *") or "",
        schedule_typical=_env("HEARTBEAT_SCHEDULE_TYPICAL", schedules.typical or "23 4 * * *") or "",
        schedule_audit=_env("HEARTBEAT_SCHEDULE_AUDIT", schedules.audit or "45 4 * * *") or "",
        cockpit_refresh_s=_float("HEARTBEAT_COCKPIT_REFRESH", 30.0),
        public_url=(_env("HEARTBEAT_PUBLIC_URL", config.public_url or "http://127.0.0.1:8787") or "").rstrip(
            "/"
        ),
        slack_webhook_url=_secret("HEARTBEAT_SLACK_WEBHOOK_URL", channels.slack_webhook_url_env),
        telegram_bot_token=_secret("HEARTBEAT_TELEGRAM_BOT_TOKEN", channels.telegram_bot_token_env),
        telegram_chat_id=_env("HEARTBEAT_TELEGRAM_CHAT_ID", channels.telegram_chat_id),
        telegram_api_url=(_env("HEARTBEAT_TELEGRAM_API_URL", "https://api.telegram.org") or "").rstrip("/"),
        webhook_url=_env("HEARTBEAT_WEBHOOK_URL", channels.webhook_url),
        webhook_secret=_secret("HEARTBEAT_WEBHOOK_SECRET", channels.webhook_secret_env),
        display_detail=(_env("HEARTBEAT_DISPLAY_DETAIL", "false") or "").lower()
        in ("1", "true", "yes", "on"),
        # entities (issue 13)
        entity_cap=max(1, _int("HEARTBEAT_ENTITY_CAP", 10_000)),
        entity_worse_share=_float("HEARTBEAT_ENTITY_WORSE_SHARE", 0.2),
        # warehouse mode (issue 17)
        warehouse_url=_env("HEARTBEAT_WAREHOUSE_URL", config.warehouse_url),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


def reset_settings() -> None:
    get_settings.cache_clear()
