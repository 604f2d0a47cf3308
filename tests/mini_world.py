"""A tiny, deterministic world for fast tests of every surface: a `shop` source and an `fx` source,
landed (with dlt-shaped `_dlt_loads` tables), five metric definitions, synced and computed with history.

What it shows, by design:
- `shop_unpaid_invoices` red: "ACME Ltd" has 3 invoices unpaid since 75+ days (EUR 12,400);
- `shop_refund_rate_7d` amber: about 8% of last week's orders were refunded (norm 5, alert 20);
- `shop_orders_24h` and `shop_basket_eur_24h` green;
- `rates_coverage` green by value but freshness red: the `fx` source last loaded 4 days ago.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

MINI_DEFS = Path(__file__).parent / "fixtures" / "mini_defs"
DAYS = 40


def build_mini_sources(conn: psycopg.Connection[Any], now: datetime) -> None:
    conn.execute(
        """
        DROP SCHEMA IF EXISTS shop CASCADE; DROP SCHEMA IF EXISTS fx CASCADE;
        CREATE SCHEMA shop; CREATE SCHEMA fx;
        CREATE TABLE shop.orders (id bigint PRIMARY KEY, customer text, amount numeric, refunded boolean,
                                  created_at timestamptz);
        CREATE TABLE shop.invoices (id bigint PRIMARY KEY, customer text, amount numeric, due_date timestamptz,
                                    paid_at timestamptz);
        CREATE TABLE fx.rates (day timestamptz, currency text, rate numeric);
        """
    )
    # About 1,400 orders a day for 40 days, one a minute; every 12th refunded in the last 7 days, every
    # 40th before; amounts cycle deterministically around EUR 50.
    conn.execute(
        """
        INSERT INTO shop.orders
        SELECT g, 'customer ' || (g %% 7), 30 + (g * 37 %% 41),
               CASE WHEN %(now)s - g * interval '1 minute' > %(now)s - interval '7 days' THEN g %% 12 = 0
                    ELSE g %% 40 = 0 END,
               %(now)s - g * interval '1 minute'
        FROM generate_series(1, %(minutes)s) g
        """,
        {"now": now, "minutes": DAYS * 1440},
    )
    conn.execute(
        """
        INSERT INTO shop.invoices VALUES
          (1, 'ACME Ltd', 4000, %(now)s - interval '120 days', NULL),
          (2, 'ACME Ltd', 4400, %(now)s - interval '90 days', NULL),
          (3, 'ACME Ltd', 4000, %(now)s - interval '75 days', NULL),
          (4, 'Globex', 900, %(now)s - interval '100 days', %(now)s - interval '95 days'),
          (5, 'Initech', 300, %(now)s - interval '5 days', NULL)
        """,
        {"now": now},
    )
    conn.execute(
        """
        INSERT INTO fx.rates
        SELECT %(now)s - d * interval '1 day', c, 1 + d / 100.0
        FROM generate_series(4, 40) d, unnest(ARRAY['USD', 'GBP', 'CHF']) c
        """,
        {"now": now},
    )
    for schema, loaded in (("shop", now - timedelta(minutes=10)), ("fx", now - timedelta(days=4))):
        conn.execute(
            f"""CREATE TABLE {schema}._dlt_loads (load_id text NOT NULL, schema_name text, status bigint NOT NULL,
                    inserted_at timestamptz NOT NULL, schema_version_hash text)"""
        )
        conn.execute(
            f"INSERT INTO {schema}._dlt_loads VALUES ('1', %s, 0, %s, 'x'), ('2', %s, 0, %s, 'x')",
            (schema, loaded - timedelta(days=30), schema, loaded),
        )


def build_mini_world(url: str, now: datetime, backfill_days: int = 20) -> None:
    """Sources landed, metric files synced, values computed with `backfill_days` of history.

    Expects heartbeat's settings to point at `url` (the `marts_url` fixture does that) and
    HEARTBEAT_METRIC_DEFS at `MINI_DEFS`.
    """
    from heartbeat_core import clock
    from heartbeat_core.compute.engine import compute_metrics
    from heartbeat_core.metrics.sync import sync_directory

    with psycopg.connect(url) as conn:
        build_mini_sources(conn, now)
        conn.commit()
        report = sync_directory(conn, MINI_DEFS)
        assert report.ok, report.problems
    with clock.frozen_clock(now):
        computed = compute_metrics(backfill_days=backfill_days)
    assert computed.ok, [o.error for o in computed.failed]
