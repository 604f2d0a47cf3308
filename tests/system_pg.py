"""The machine's system PostgreSQL (the production shape: another server, over TCP) when it answers, else the
test server; fresh databases on it, dropped afterwards."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import psycopg

from heartbeat_core.db.connection import with_database

SYSTEM_PG = "postgresql://postgres@127.0.0.1:5432/postgres"


def pick_server(fallback: str) -> str:
    try:
        psycopg.connect(SYSTEM_PG, connect_timeout=3).close()
        return SYSTEM_PG
    except psycopg.OperationalError:
        return fallback


def database_factory(server_url: str) -> Iterator[Callable[[str], str]]:
    made: list[str] = []

    def make(prefix: str) -> str:
        name = f"hbt_{prefix}_{secrets.token_hex(4)}"
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return with_database(server_url, name)

    yield make
    with psycopg.connect(server_url, autocommit=True) as conn:
        for name in made:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
