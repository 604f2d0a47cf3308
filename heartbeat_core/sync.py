"""Files in, registry rows out: migrate, then load the metric files and the audit cuts the settings name.

The one sync path, shared by `heartbeat sync`, the demo and benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from heartbeat_core.audit.registry import CutSyncReport, sync_cuts
from heartbeat_core.datatests.check import declaration_problems
from heartbeat_core.db import connect
from heartbeat_core.db.migrate import migrate
from heartbeat_core.metrics.sync import sync_directory
from heartbeat_core.rollups.sync import sync_rollups
from heartbeat_core.settings import get_settings
from heartbeat_core.sync_report import SyncReport


@dataclass(frozen=True)
class ProjectSync:
    metrics: SyncReport
    cuts: CutSyncReport
    rollups: SyncReport
    data_tests: list[str] = field(default_factory=list)  # wrong declarations in sources.toml (issue 18)


def sync_project() -> ProjectSync:
    """Migrate, then sync `rollups/`, `metric_defs/` and `audit_cuts/` in one transaction (rollups first, so
    the metrics that read them are checked against their tables; cuts register beside the metrics they
    explain); then check the data tests `sources.toml` declares (a wrong one fails the sync)."""
    settings = get_settings()
    with connect() as conn:
        migrate(conn)
        conn.autocommit = False
        rollups = sync_rollups(conn, settings.rollups)
        metrics = sync_directory(conn, settings.metric_defs, settings.shared_sql)
        cuts = sync_cuts(conn)
        conn.commit()
        tests = declaration_problems(conn, settings.sources)
    return ProjectSync(metrics, cuts, rollups, tests)
