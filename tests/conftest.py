"""Real Postgres for every test: the embedded server by default, HEARTBEAT_TEST_DATABASE_URL otherwise.

Each test module (or test, where it asks) gets its own freshly created database, so suites can run
side by side against one server without seeing each other's rows.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from heartbeat_core.db import embedded
from heartbeat_core.db.connection import reset_pool, with_database
from heartbeat_core.db.migrate import migrate
from heartbeat_core.settings import reset_settings

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_HOME = Path(os.environ.get("HEARTBEAT_TEST_HOME", str(Path.home() / ".cache" / "heartbeat-test")))


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    """URL of the `postgres` database on the test server."""
    external = os.environ.get("HEARTBEAT_TEST_DATABASE_URL")
    if external:
        return with_database(external, "postgres")
    return embedded.ensure_running(TEST_HOME)


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
