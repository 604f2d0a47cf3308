"""The demo world's SQL templates (`*.sql`), read by `heartbeat_demo.sqlgen.render` as package data."""
