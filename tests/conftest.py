"""Real Postgres for every test: the embedded server by default, HEARTBEAT_TEST_DATABASE_URL otherwise.

Each test module (or test, where it asks) gets its own freshly created database, so suites can run
side by side against one server without seeing each other's rows.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from heartbeat_core.db import embedded
from heartbeat_core.db.connection import reset_pool, with_database
from heartbeat_core.db.migrate import migrate
from heartbeat_core.project import PROJECT_ENV
from heartbeat_core.settings import reset_settings
from heartbeat_demo import PROJECT_DIR

REPO_ROOT = Path(__file__).resolve().parent.parent
# The demo project applies unless a test names another (`heartbeat --project-dir` sets the same variable);
# subprocesses inherit it.
os.environ[PROJECT_ENV] = str(PROJECT_DIR)
reset_settings()

TEST_HOME = Path(os.environ.get("HEARTBEAT_TEST_HOME", str(Path.home() / ".cache" / "heartbeat-test")))


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    """URL of the `postgres` database on the test server."""
    external = os.environ.get("HEARTBEAT_TEST_DATABASE_URL")
    if external:
        return with_database(external, "postgres")
    url = embedded.ensure_running(TEST_HOME)
    _throwaway_durability(url)
    return url


def _throwaway_durability(url: str) -> None:
    """The embedded test server's data is thrown away after the run, so it need not survive a crash: no fsync,
    no full-page writes, no waiting for WAL flushes. Queries, plans and results are the same; only the disk
    waits go (the suite creates and drops a database per test, each a burst of fsyncs on a slow disk)."""
    with psycopg.connect(url, autocommit=True) as conn:
        for setting in ("fsync", "full_page_writes", "synchronous_commit"):
            conn.execute(f"ALTER SYSTEM SET {setting} = off")
        conn.execute("SELECT pg_reload_conf()")


@pytest.fixture(scope="session")
def create_database(pg_admin_url: str) -> Iterator[Callable[[str], str]]:
    """Factory: a new empty database on the test server, dropped at the end of the session."""
    created: list[str] = []

    def make(prefix: str) -> str:
        name = f"hbt_{prefix}_{secrets.token_hex(4)}".lower()
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return with_database(pg_admin_url, name)

    yield make
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        for name in created:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _point_heartbeat_at(url: str, monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    monkeypatch.setenv("HEARTBEAT_DATABASE_URL", url)
    monkeypatch.setenv("HEARTBEAT_HOME", str(home))
    reset_settings()
    reset_pool()


@pytest.fixture
def marts_url(
    create_database: Callable[[str], str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[str]:
    """A fresh, migrated marts database that heartbeat's settings point at, for one test."""
    url = create_database("marts")
    with psycopg.connect(url) as conn:
        migrate(conn)
    _point_heartbeat_at(url, monkeypatch, tmp_path / "home")
    yield url
    reset_pool()
    reset_settings()


@pytest.fixture
def marts_conn(marts_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(marts_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def mini_world(marts_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """`marts_url` with the mini world (tests/mini_world.py) landed, synced and computed at the clock's now;
    HEARTBEAT_METRIC_DEFS points at its definitions."""
    from heartbeat_core import clock
    from tests.mini_world import MINI_DEFS, build_mini_world

    monkeypatch.setenv("HEARTBEAT_METRIC_DEFS", str(MINI_DEFS))
    reset_settings()
    build_mini_world(marts_url, clock.now())
    yield marts_url


class DemoWorld:
    """The demo world at scale 1, built once per session: landed, synced, computed with history."""

    def __init__(self, marts_url: str, source_url: str, home: Path, helpdesk_url: str):
        self.marts_url = marts_url
        self.source_url = source_url
        self.home = home
        self.helpdesk_url = helpdesk_url

    def env(self) -> dict[str, str]:
        return {
            "HEARTBEAT_DATABASE_URL": self.marts_url,
            "HEARTBEAT_HOME": str(self.home),
            "HEARTBEAT_DEMO_SOURCE_URL": self.source_url,
            "HEARTBEAT_DEMO_HELPDESK_URL": self.helpdesk_url,
            "HEARTBEAT_METRIC_DEFS": str(REPO_ROOT / "heartbeat_demo" / "project" / "metric_defs"),
            "HEARTBEAT_SOURCES": str(REPO_ROOT / "heartbeat_demo" / "project" / "sources.toml"),
        }


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def demo_world_template(
    create_database: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory
) -> DemoWorld:
    """Built once; do not write to it — use `demo_world` for a private copy."""
    from heartbeat_demo.pipeline import run_demo

    world = DemoWorld(
        create_database("demo_marts"),
        create_database("demo_source"),
        tmp_path_factory.mktemp("demo_home"),
        f"http://127.0.0.1:{_free_port()}",
    )
    with pytest.MonkeyPatch.context() as patch:
        for key, value in world.env().items():
            patch.setenv(key, value)
        reset_settings()
        reset_pool()
        result = run_demo(scale=1, backfill_days=30, say=lambda _line: None)
        if result.helpdesk is not None:
            result.helpdesk.close()
        reset_pool()
    reset_settings()
    assert not result.failed_sources, result.failed_sources
    assert not result.failed_metrics, result.failed_metrics
    return world


@pytest.fixture
def demo_world(
    demo_world_template: DemoWorld,
    create_database: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
    pg_admin_url: str,
    tmp_path: Path,
) -> Iterator[DemoWorld]:
    """A private copy (marts and source databases cloned from the session's template) that heartbeat's
    settings point at; write to it freely."""
    copies = []
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        for url in (demo_world_template.marts_url, demo_world_template.source_url):
            template = urlsplit(url).path.lstrip("/")
            clone = f"{template}_c{secrets.token_hex(3)}"
            conn.execute(f'CREATE DATABASE "{clone}" TEMPLATE "{template}"')
            copies.append(clone)
    home = tmp_path / "demo_home"
    shutil.copytree(demo_world_template.home / "demo", home / "demo")
    world = DemoWorld(
        with_database(demo_world_template.marts_url, copies[0]),
        with_database(demo_world_template.source_url, copies[1]),
        home,
        demo_world_template.helpdesk_url,
    )
    for key, value in world.env().items():
        monkeypatch.setenv(key, value)
    reset_settings()
    reset_pool()
    yield world
    reset_pool()
    reset_settings()
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        for clone in copies:
            conn.execute(f'DROP DATABASE IF EXISTS "{clone}" WITH (FORCE)')
