"""A small shop database (customers, orders) for `heartbeat sources add postgres` and its e2e test.

Sixty days of history by business timestamps, dated back from now: about 40 orders a day (more on weekdays),
a few customers a day. `drop_today` keeps the last 24 hours at a tenth of a normal day, so the orders
starter metric turns red against its weekday band once history is backfilled.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import psycopg

SHOP_DDL = """
CREATE SCHEMA shop;
CREATE TABLE shop.customers (
    id serial PRIMARY KEY, email text NOT NULL, country text NOT NULL,
    created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL
);
CREATE TABLE shop.orders (
    id bigserial PRIMARY KEY, customer_id integer NOT NULL REFERENCES shop.customers (id),
    status text NOT NULL, amount numeric(12, 2) NOT NULL,
    created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL
);
"""


def build_shop(url: str, days: int = 60, drop_today: bool = True, seed: int = 3) -> None:
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    with psycopg.connect(url) as conn:
        conn.execute(SHOP_DDL)
        customers: list[tuple[str, str, datetime, datetime]] = []
        orders: list[tuple[int, str, float, datetime, datetime]] = []
        for day in range(days, 0, -1):
            start = now - timedelta(days=day)
            for n in range(rng.randint(2, 6)):
                at = start + timedelta(minutes=rng.randint(0, 1439))
                customers.append((f"c{day}_{n}@shop.test", rng.choice(["DE", "FR", "NL"]), at, at))
            per_day = 45 if start.weekday() < 5 else 25
            if drop_today and day == 1:
                per_day = max(per_day // 10, 1)
            for _ in range(per_day + rng.randint(-3, 3)):
                at = start + timedelta(minutes=rng.randint(0, 1439))
                status = rng.choices(["paid", "pending", "cancelled"], [80, 12, 8])[0]
                orders.append((0, status, rng.randint(1000, 50000) / 100, at, at))
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO shop.customers (email, country, created_at, updated_at) VALUES (%s, %s, %s, %s)",
                customers,
            )
            ids = [r[0] for r in conn.execute("SELECT id FROM shop.customers").fetchall()]
            cur.executemany(
                "INSERT INTO shop.orders (customer_id, status, amount, created_at, updated_at) VALUES (%s, %s, %s, %s, %s)",
                [(rng.choice(ids), s, a, c, u) for _, s, a, c, u in orders],
            )
        conn.execute("ANALYZE shop.customers")
        conn.execute("ANALYZE shop.orders")
