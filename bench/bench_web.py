"""Benchmark: the cockpit's read path under load, against the same page built live from every value SQL.

    .venv/bin/python bench/bench_web.py [--metrics 300] [--days 365] [--scales 1,10] [--duration 15]

Setup, straight in SQL (no compute run): a scratch marts database with `--metrics` registry rows and
`--days` of history each, and a landed source table `benchsrc.payment` of 200,000 x scale rows (indexed
on created_at as ingest does). Each metric's value SQL is a real aggregate over that table.

Measured, per scale:
- `heartbeat serve --no-scheduler` in its own process; wrk (Debian's `wrk`, a second process) at 20
  connections for `--duration` seconds on `GET /api/cockpit` and `GET /`: req/s, p50, p99 (target p99 <= 30 ms).
- The same page built live, as a BI dashboard does on load: every value SQL run against the marts, then the
  read model and the HTML built, one request at a time (p50 of 5); reported with the ratio to the cached p50.

`--credential viewer` (or `display`) sets HEARTBEAT_API_TOKEN on the server and sends a viewer token (or a display
cookie) with every request, so the credential gate is measured too (a display cookie is refused `/api/cockpit`).

Uses HEARTBEAT_BENCH_DATABASE_URL (any database on the server) or an embedded server in ~/.cache/heartbeat-bench.
Record results in bench/RESULTS.md under "Web".
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from heartbeat_core.db import embedded  # noqa: E402
from heartbeat_core.db.connection import with_database  # noqa: E402
from heartbeat_core.db.migrate import migrate  # noqa: E402

SHAPES = (
    ("count", "24h", "lower_is_better",
     "SELECT count(*) AS value FROM benchsrc.payment WHERE merchant_id = {m} AND status = 'failed' "
     "AND created_at >= heartbeat.as_of() - interval '1 day' AND created_at < heartbeat.as_of()"),
    ("money:EUR", "7d", "higher_is_better",
     "SELECT coalesce(sum(amount), 0) AS value FROM benchsrc.payment WHERE merchant_id = {m} "
     "AND created_at >= heartbeat.as_of() - interval '7 days' AND created_at < heartbeat.as_of()"),
    ("count", "30d", "higher_is_better",
     "SELECT count(DISTINCT client_id) AS value FROM benchsrc.payment WHERE merchant_id = {m} "
     "AND created_at >= heartbeat.as_of() - interval '30 days' AND created_at < heartbeat.as_of()"),
    ("pct", "7d", "lower_is_better",
     "SELECT coalesce(100.0 * avg((status = 'refunded')::int), 0) AS value FROM benchsrc.payment "
     "WHERE merchant_id = {m} AND created_at >= heartbeat.as_of() - interval '7 days'"),
)  # fmt: skip


def admin_url() -> str:
    external = os.environ.get("HEARTBEAT_BENCH_DATABASE_URL")
    if external:
        return with_database(external, "postgres")
    return embedded.ensure_running(Path.home() / ".cache" / "heartbeat-bench")


def build_world(url: str, metrics: int, days: int, rows: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn)
        conn.execute("DROP SCHEMA IF EXISTS benchsrc CASCADE; CREATE SCHEMA benchsrc")
        conn.execute(
            """CREATE TABLE benchsrc.payment (id bigint PRIMARY KEY, merchant_id int, client_id int,
                   amount numeric(12,2), status text, created_at timestamptz)"""
        )
        conn.execute(
            """INSERT INTO benchsrc.payment
               SELECT g, g %% %(merchants)s, g %% 50000, (g * 7919 %% 20000) / 100.0,
                      CASE WHEN g %% 37 = 0 THEN 'failed' WHEN g %% 53 = 0 THEN 'refunded' ELSE 'ok' END,
                      now() - (g::float / %(rows)s) * interval '90 days'
               FROM generate_series(1::bigint, %(rows)s::bigint) g""",
            {"rows": rows, "merchants": metrics},
        )
        conn.execute("CREATE INDEX ON benchsrc.payment (created_at)")
        conn.execute("ANALYZE benchsrc.payment")
        conn.execute(
            """CREATE TABLE benchsrc._dlt_loads (load_id text NOT NULL, schema_name text, status bigint NOT NULL,
                   inserted_at timestamptz NOT NULL, schema_version_hash text);
               INSERT INTO benchsrc._dlt_loads VALUES ('1', 'benchsrc', 0, now() - interval '20 minutes', 'x')"""
        )
        with conn.transaction():
            conn.execute("SET LOCAL heartbeat.sync = 'on'")
            with conn.cursor() as cur:
                for i in range(metrics):
                    unit, period, direction, sql = SHAPES[i % len(SHAPES)]
                    # ~5% red, ~10% amber by their lines; the rest green against a loose line
                    if i % 20 == 0:
                        norm, alert = (0, 1) if direction == "lower_is_better" else (1e9, 1e8)
                    elif i % 10 == 0:
                        norm, alert = (0, 1e9) if direction == "lower_is_better" else (1e9, -1)
                    else:
                        norm, alert = (1e9, 2e9) if direction == "lower_is_better" else (-1, -2)
                    cur.execute(
                        """INSERT INTO heartbeat.metric_registry (metric_id, name, period, unit, direction, sources,
                               value_sql, norm_value, alert_value, initial_norm, initial_alert, owner, description)
                           VALUES (%s, %s, %s, %s, %s, ARRAY['benchsrc'], %s, %s, %s, %s, %s, %s, %s)""",
                        (
                            f"bench_{i:03d}", f"Bench metric {i:03d} ({unit}, {period})", period, unit, direction,
                            sql.format(m=i), norm, alert, norm, alert, "ops@example.com", "synthetic",
                        ),
                    )  # fmt: skip
        # history: `days` rows per metric, values from a deterministic wave, status by the same lines
        conn.execute(
            """INSERT INTO heartbeat.metric_history (metric_id, as_of_date, as_of, value, computed_at, source_as_of,
                   status, reason, norm_value, alert_value)
               SELECT r.metric_id, d::date, d + interval '1 day', 100 + 20 * sin(extract(doy from d) / 5.0 + n),
                      now() - interval '5 minutes', now() - interval '20 minutes',
                      CASE WHEN n %% 20 = 0 THEN 'red' WHEN n %% 10 = 0 THEN 'amber' ELSE 'green' END, 'bench',
                      r.norm_value, r.alert_value
               FROM (SELECT metric_id, norm_value, alert_value,
                            row_number() OVER (ORDER BY metric_id) - 1 AS n FROM heartbeat.metric_registry) r,
                    generate_series(current_date - (%(days)s - 1), current_date, interval '1 day') d""",
            {"days": days},
        )
        conn.execute("ANALYZE heartbeat.metric_history")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


BENCH_TOKEN = "bench-admin-token-" + secrets.token_hex(8)
# the request headers that carry the credential under test (`--credential`); empty for an open loopback server
AUTH: list[tuple[str, str]] = []


def set_credential(url: str, kind: str) -> None:
    """Gate the server (a token set) and send a viewer token or a display cookie with every request."""
    from heartbeat_core.access import cookie_value, create_credential

    if kind == "none":
        return
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn)
        key = create_credential(conn, "viewer" if kind == "viewer" else "display", f"bench-{kind}")[1]
    AUTH.append(
        ("Authorization", f"Bearer {key}")
        if kind == "viewer"
        else ("Cookie", f"hb_display={cookie_value(key)}")
    )


def start_server(url: str, home: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "HEARTBEAT_DATABASE_URL": url, "HEARTBEAT_HOME": str(home)}
    env.pop("HEARTBEAT_API_TOKEN", None)
    if AUTH:
        env["HEARTBEAT_API_TOKEN"] = BENCH_TOKEN
    exe = Path(sys.executable).parent / "heartbeat"
    proc = subprocess.Popen(
        [str(exe), "serve", "--port", str(port), "--no-scheduler"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=2).json().get("snapshot"):
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("heartbeat serve did not come up in 60 s")


def _wire_size(url: str, gz: bool) -> int:
    with httpx.Client(timeout=10) as c:
        r = c.get(url, headers={"Accept-Encoding": "gzip" if gz else "identity", **dict(AUTH)})
        r.raise_for_status()
        return int(r.num_bytes_downloaded)


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(url: str, duration: int, connections: int = 20, gzip: bool = True) -> dict[str, float]:
    headers = ["-H", "Accept-Encoding: gzip, deflate, br"] if gzip else []
    for name, value in AUTH:
        headers += ["-H", f"{name}: {value}"]
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", str(connections), "-d", f"{duration}s", "--latency", *headers, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lat = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "rps": rps,
        "p50": _ms(lat["50"]),
        "p90": _ms(lat["90"]),
        "p99": _ms(lat["99"]),
        "errors": float(non2xx.group(1)) if non2xx else 0.0,
    }


def rebuild_ms(url: str, runs: int = 5) -> float:
    """What one read-model change costs the server: snapshot query + pydantic + HTML render (p50)."""
    from heartbeat_core.readmodel import cockpit_snapshot
    from heartbeat_core.readmodel.cache import CachedSnapshot
    from heartbeat_core.settings import get_settings
    from heartbeat_web.render import CockpitRenderer, make_env

    renderer = CockpitRenderer(make_env(), get_settings(), "bench")
    times = []
    with psycopg.connect(url) as conn:
        for _ in range(runs):
            start = time.perf_counter()
            snap = cockpit_snapshot(conn)
            conn.rollback()
            renderer(CachedSnapshot(snap, snap.model_dump_json().encode(), time.monotonic()), None)
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def live_page_ms(url: str, runs: int = 5) -> tuple[float, float]:
    """Run every value SQL (what a dashboard does on load), then build the read model and the HTML."""
    from heartbeat_core.readmodel import cockpit_snapshot
    from heartbeat_core.readmodel.cache import CachedSnapshot
    from heartbeat_core.settings import get_settings
    from heartbeat_web.render import CockpitRenderer, make_env

    renderer = CockpitRenderer(make_env(), get_settings(), "bench")
    times = []
    with psycopg.connect(url) as conn:
        sqls = [
            r[0] for r in conn.execute("SELECT value_sql FROM heartbeat.metric_registry ORDER BY metric_id")
        ]
        conn.rollback()
        for _ in range(runs):
            start = time.perf_counter()
            for sql in sqls:
                conn.execute(sql).fetchone()
            snap = cockpit_snapshot(conn)
            conn.rollback()
            renderer(CachedSnapshot(snap, snap.model_dump_json().encode(), time.monotonic()), None)
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--metrics", type=int, default=300)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--scales", default="1,10")
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument(
        "--credential",
        choices=("none", "viewer", "display"),
        default="none",
        help="gate the server (token set) and read with a viewer token or a display cookie",
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench_web: wrk is missing (apt-get install -y wrk)")
    admin = admin_url()
    print(
        f"# Web read path — {platform.node()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M')} UTC"
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"{args.metrics} metrics x {args.days} days of history; wrk 20 connections, {args.duration}s per endpoint; "
        f"load average at start {load}\n"
    )
    print("| scale | source rows | endpoint | req/s | p50 ms | p90 ms | p99 ms | non-2xx | bytes |")
    print("|---|---|---|---|---|---|---|---|---|")
    summary = []
    for scale in [int(s) for s in args.scales.split(",")]:
        rows = 200_000 * scale
        name = f"bench_web_{scale}_{secrets.token_hex(3)}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = with_database(admin, name)
        home = Path(tempfile.mkdtemp(prefix="hb-bench-web-"))
        proc = None
        try:
            t0 = time.perf_counter()
            build_world(url, args.metrics, args.days, rows)
            setup_s = time.perf_counter() - t0
            AUTH.clear()
            set_credential(url, args.credential)
            proc, base = start_server(url, home)
            cached: dict[str, dict[str, float]] = {}
            for path, gz in (("/api/cockpit", True), ("/", True), ("/api/cockpit", False), ("/", False)):
                size = _wire_size(base + path, gz)
                run_wrk(base + path, 2, gzip=gz)  # warm-up
                res = run_wrk(base + path, args.duration, gzip=gz)
                if gz:
                    cached[path] = res
                label = f"GET {path}" + (" (gzip)" if gz else " (identity)")
                print(
                    f"| {scale} | {rows:,} | {label} | {res['rps']:,.0f} | {res['p50']:.1f} | {res['p90']:.1f} "
                    f"| {res['p99']:.1f} | {res['errors']:.0f} | {size:,} |",
                    flush=True,
                )
            os.environ["HEARTBEAT_DATABASE_URL"] = url
            os.environ["HEARTBEAT_HOME"] = str(home)
            live_p50, live_max = live_page_ms(url)
            rebuild = rebuild_ms(url)
            print(
                f"| {scale} | {rows:,} | rebuild once per change (snapshot + render) | | {rebuild:,.0f} | | | | |"
            )
            print(
                f"| {scale} | {rows:,} | live page (every value SQL + build), 1 client | "
                f"{1000 / live_p50:.2f} | {live_p50:,.0f} | | {live_max:,.0f} (max of 5) | | |",
                flush=True,
            )
            summary.append((scale, setup_s, cached["/"]["p50"], cached["/api/cockpit"]["p50"], live_p50))
            print(
                f"| {scale} | | load average after | {', '.join(f'{x:.1f}' for x in os.getloadavg())} | | | | | |"
            )
        finally:
            if proc is not None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=20)
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            shutil.rmtree(home, ignore_errors=True)
    print()
    for scale, setup_s, page_p50, api_p50, live_p50 in summary:
        print(
            f"- scale {scale}: live page p50 {live_p50:,.0f} ms vs cached `/` p50 {page_p50:.1f} ms "
            f"(x{live_p50 / page_p50:,.0f}) and `/api/cockpit` p50 {api_p50:.1f} ms (x{live_p50 / api_p50:,.0f}); "
            f"setup {setup_s:.0f} s"
        )


if __name__ == "__main__":
    main()
