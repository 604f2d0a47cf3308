"""Database access: the embedded server, connections and the pool, migrations."""

from heartbeat_core.db.connection import (
    DatabaseUnavailable,
    connect,
    database_url,
    get_pool,
    reset_pool,
    server_url,
)

__all__ = ["DatabaseUnavailable", "connect", "database_url", "get_pool", "reset_pool", "server_url"]
