"""`heartbeat demo`: the whole product on the demo world, from an empty machine to a ready status.

embedded Postgres → demo source database and rate files → helpdesk API on loopback → ingest every
source with dlt → sync metric_defs → compute with a history backfill → typical bands → status.
The caller then serves the cockpit and MCP (the CLI does, unless --no-serve).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from heartbeat_core import clock
from heartbeat_core.db import connect, server_url
from heartbeat_core.db.connection import with_database
from heartbeat_core.db.migrate import migrate
from heartbeat_core.settings import get_settings

SOURCE_DATABASE = "heartbeat_demo_source"
DEMO_DATASETS = ("webbank", "aml", "card_management", "helpdesk", "currency_rates")
DEFAULT_HELPDESK_URL = "http://127.0.0.1:8790"
BACKFILL_DAYS = 90

Say = Callable[[str], None]


@dataclass
class DemoResult:
    seconds: dict[str, float] = field(default_factory=dict)
    world_rows: int = 0
    failed_sources: list[str] = field(default_factory=list)
    failed_metrics: list[str] = field(default_factory=list)
    helpdesk: Any = None  # the running helpdesk API server, kept alive while serving

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())


def demo_source_url() -> str:
    """`HEARTBEAT_DEMO_SOURCE_URL`, else the demo source database beside marts (created if missing)."""
    explicit = os.environ.get("HEARTBEAT_DEMO_SOURCE_URL", "").strip()
    if explicit:
        return explicit
    admin = server_url()
    with connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (SOURCE_DATABASE,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(SOURCE_DATABASE)))
    return with_database(admin, SOURCE_DATABASE)


def rate_files_dir() -> Path:
    return get_settings().home / "demo" / "currency_rates"


def helpdesk_url() -> str:
    return os.environ.get("HEARTBEAT_DEMO_HELPDESK_URL", "").strip() or DEFAULT_HELPDESK_URL


def reset_landed_datasets(marts: psycopg.Connection[Any]) -> None:
    """A rebuilt world starts from empty marts datasets, so ingest reloads them in full: in the Postgres
    marts, or in the warehouse engine when HEARTBEAT_WAREHOUSE_URL is set (ingest lands there)."""
    from heartbeat_core.db.connection import database_url
    from heartbeat_core.ingest.store import open_marts

    landed = open_marts(marts, database_url())
    try:
        for dataset in DEMO_DATASETS:
            landed.drop_dataset(dataset)
    finally:
        landed.close()
    marts.execute("DELETE FROM heartbeat.source_state WHERE source = ANY(%s)", (list(DEMO_DATASETS),))


def start_helpdesk(source_url: str) -> Any:
    """The demo's REST source on loopback at the port of HEARTBEAT_DEMO_HELPDESK_URL."""
    from heartbeat_demo.helpdesk_api import start_helpdesk_api

    parts = urlsplit(helpdesk_url())
    return start_helpdesk_api(source_url, host=parts.hostname or "127.0.0.1", port=parts.port or 8790)


def run_demo(
    *, scale: int = 1, seed: int = 42, backfill_days: int = BACKFILL_DAYS, say: Say = print
) -> DemoResult:
    from heartbeat_core.compute.engine import compute_metrics
    from heartbeat_core.ingest import run_all
    from heartbeat_core.readmodel.incident_history import refresh_incidents
    from heartbeat_core.readmodel.typical import refresh_typical, rescore_history
    from heartbeat_core.sync import sync_project
    from heartbeat_demo.world import build_world

    result = DemoResult()

    def step(name: str) -> contextlib.AbstractContextManager[None]:
        @contextlib.contextmanager
        def timed() -> Any:
            started = time.perf_counter()
            yield
            result.seconds[name] = time.perf_counter() - started
            say(f"  {name}: {result.seconds[name]:.1f} s")

        return timed()

    say("heartbeat demo: starting the database")
    with step("database"), connect() as conn:
        migrate(conn)
        conn.autocommit = True
        reset_landed_datasets(conn)
    source_url = demo_source_url()

    say(f"heartbeat demo: building the demo world (scale {scale}, seed {seed})")
    with step("world"):
        summary = build_world(source_url, rate_files_dir(), scale=scale, seed=seed, now=clock.now())
    result.world_rows = summary.total_rows
    say(f"  {summary.total_rows:,} source rows, {summary.rate_files} rate files")

    with step("helpdesk api"):
        try:
            result.helpdesk = start_helpdesk(source_url)
        except OSError as exc:
            say(
                f"  helpdesk API not started ({exc.strerror or exc}); the helpdesk source will show as failed"
            )

    say("heartbeat demo: ingesting every source with dlt")
    with step("ingest"):
        landed = run_all(progress=lambda line: say(f"  {line}"))
        result.failed_sources = [r.source for r in landed if not r.ok]

    say("heartbeat demo: syncing metric definitions")
    with step("sync"):
        report = sync_project().metrics
    say(
        f"  {len(report.added) + len(report.updated) + len(report.unchanged)} metrics, {len(report.problems)} bad files"
    )
    for problem in report.problems:
        say(f"  error: {problem}")

    say(f"heartbeat demo: computing every metric with {backfill_days} days of history")
    with step("compute"):
        computed = compute_metrics(backfill_days=backfill_days)
        result.failed_metrics = [o.metric_id for o in computed.failed]
        with connect() as conn:
            rescore_history(conn)
            refresh_typical(conn)
            conn.commit()
            refresh_incidents(conn)  # the incidents' stored history, as the recompute job records it
            conn.commit()
    for failure in computed.failed:
        say(f"  error: {failure.metric_id}: {failure.error}")

    with step("audit"):
        _refresh_audit(say)
    return result


def _refresh_audit(say: Say) -> None:
    """The /audit pages read only snapshots; in warehouse mode the cuts cannot run (they read Postgres marts)."""
    if get_settings().warehouse_url:
        say("heartbeat demo: audit cut snapshots skipped in warehouse mode (they read the Postgres marts)")
        return
    from heartbeat_core.audit import refresh_cuts

    say("heartbeat demo: refreshing audit cut snapshots")
    audit = refresh_cuts()
    for cut_failure in audit.failed:
        say(f"  error: audit {cut_failure.cut_id}[{cut_failure.window}]: {cut_failure.error}")


def live_appender(source_url: str, interval_s: float = 60.0, say: Say = print) -> threading.Thread:
    """`--live`: append the last minute's source rows every minute, in a daemon thread."""
    from heartbeat_demo.world import append_live

    def loop() -> None:
        while True:
            time.sleep(interval_s)
            try:
                added = append_live(source_url, rate_files_dir())
                say(f"heartbeat demo --live: appended {sum(added.values())} rows")
            except Exception as exc:  # keep appending; the cockpit shows the source going stale
                say(f"heartbeat demo --live: append failed: {str(exc).splitlines()[0] if str(exc) else exc}")

    thread = threading.Thread(target=loop, name="demo-live", daemon=True)
    thread.start()
    return thread
