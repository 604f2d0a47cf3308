"""Your own data in minutes, through the installed wheel: a shop database (customers, orders) in the system
PostgreSQL, then exactly the README's "Your own data" commands, run with the fresh venv's `heartbeat` from a
temp dir outside the checkout. The wall time from `init` to a judged cockpit goes to bench/RESULTS.md.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.shop_db import build_shop
from tests.system_pg import database_factory, pick_server
from tests.wheel_env import WheelVenv, build_wheel_venv, free_port

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def databases(pg_admin_url: str) -> Iterator[Callable[[str], str]]:
    """Fresh databases on the system PostgreSQL when it answers (else the test server)."""
    yield from database_factory(pick_server(pg_admin_url))


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> WheelVenv:
    return build_wheel_venv(tmp_path_factory.mktemp("wheel"))


def _run(venv: WheelVenv, cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(venv.heartbeat), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"heartbeat {' '.join(args)}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def _cockpit(venv: WheelVenv, cwd: Path, env: dict[str, str]) -> dict[str, object]:
    port = free_port()
    server = subprocess.Popen(
        [str(venv.heartbeat), "serve", "--no-scheduler", "--port", str(port)],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:  # readiness: the socket answering is the event
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/api/cockpit", timeout=5)
                if answer.status_code == 200:
                    page = httpx.get(f"http://127.0.0.1:{port}/", timeout=10)
                    assert "shop_orders_24h" in page.text or "Orders created" in page.text
                    return dict(answer.json())
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            assert time.monotonic() < deadline, "serve did not answer in 90 s"
            time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_own_shop_database_from_init_to_a_judged_cockpit(
    wheel_venv: WheelVenv, databases: Callable[[str], str]
) -> None:
    shop = databases("shop")
    build_shop(shop)
    env = wheel_venv.env(SHOP_DATABASE_URL=shop, HEARTBEAT_DATABASE_URL=databases("marts"))
    work = wheel_venv.work
    started = time.monotonic()
    # exactly the README's "Your own data" commands
    _run(wheel_venv, work, env, "init", "shop")
    project = work / "shop"
    added = _run(
        wheel_venv,
        project,
        env,
        "sources",
        "add",
        "postgres",
        "shop",
        "--url-env",
        "SHOP_DATABASE_URL",
        "--schema",
        "shop",
        "--yes",
    )
    assert "orders: " in added.stdout and "cursor updated_at; merge" in added.stdout
    _run(wheel_venv, project, env, "recompute", "--wait")
    _run(wheel_venv, project, env, "compute", "--backfill", "56")
    _run(wheel_venv, project, env, "typical", "refresh")
    status = json.loads(_run(wheel_venv, project, env, "status", "--json").stdout)
    judged = time.monotonic() - started
    cockpit = _cockpit(wheel_venv, project, env)
    states = {m["metric_id"]: m for m in status["metrics"]}
    starters = {k: v for k, v in states.items() if k.startswith("shop_")}
    assert set(starters) >= {
        "shop_orders_24h",
        "shop_customers_24h",
        "shop_orders_newest_age_hours",
        "shop_orders_cancelled_share_7d",
        "shop_orders_amount_24h",
    }
    assert all(m["status"] in ("red", "amber", "green") for m in starters.values()), starters
    assert states["shop_orders_24h"]["status"] == "red"  # today's orders fell to a tenth: the weekday band
    assert states["shop_customers_newest_age_hours"]["status"] == "green"
    assert "metrics" in cockpit or "tiles" in cockpit or cockpit
    print(f"own data: init → judged cockpit in {judged:.1f} s ({len(starters)} starter metrics)")
    Path(work / "own_data_seconds.txt").write_text(f"{judged:.1f}\n")
