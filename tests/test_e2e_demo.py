"""End to end: the README's `heartbeat demo --no-serve`, through the installed command, on fresh databases.

Marker `e2e`: `make test-e2e` runs it (and `.ci/run` after `make test`); `make test` leaves it out. It builds the
scale-1 world with the default 90-day backfill (two to three minutes) and checks what the README promises:
exit 0, and a status that lists the demo's injected incidents as red (docs/demo-world.md "Injected incidents").
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import _free_port

pytestmark = [pytest.mark.e2e, pytest.mark.db]

# The metrics that cross an alert line at the demo's `now`: incidents (a) ×2, (b) and (c) ×3; and (d), the rate
# files that stopped arriving: the metrics that read them show as stale (red freshness), never green.
INCIDENT_REDS = {
    "card_collateral_overdue_clients",
    "card_collateral_overdue_amount",
    "outgoing_payment_approval_rate_24h",
    "aml_review_backlog",
    "aml_review_backlog_days",
    "aml_reviews_pending_over_72h",
}
STALE_RATES = {"currency_rate_coverage", "currency_rate_max_daily_move", "payment_volume_eur_24h"}


def _rows(table: str) -> dict[str, tuple[str, str]]:
    """metric id → (display state, freshness) from the table `heartbeat status` prints (a reason may wrap)."""
    out = {}
    for line in table.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃|]", line)]
        if len(cells) > 6 and cells[1] in ("red", "amber", "green", "stale", "error", "no_data") and cells[2]:
            out[cells[2]] = (cells[1], cells[6].split(" ")[0])
    return out


def test_demo_no_serve_builds_everything_and_prints_the_red_incidents(
    create_database: Callable[[str], str], tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEARTBEAT_")}
    env |= {
        "HEARTBEAT_DATABASE_URL": create_database("e2e_marts"),
        "HEARTBEAT_DEMO_SOURCE_URL": create_database("e2e_source"),
        "HEARTBEAT_HOME": str(tmp_path / "home"),
        "HEARTBEAT_DEMO_HELPDESK_URL": f"http://127.0.0.1:{_free_port()}",
        "PYTHONIOENCODING": "utf-8",
    }
    command = Path(sys.executable).parent / "heartbeat"
    done = subprocess.run(
        [str(command), "demo", "--no-serve"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "heartbeat demo: ready in" in done.stdout
    assert "failed sources" not in done.stdout
    rows = _rows(done.stdout)
    assert len(rows) >= 30, done.stdout[-3000:]
    assert {m: rows[m][0] for m in INCIDENT_REDS if m in rows} == dict.fromkeys(INCIDENT_REDS, "red")
    assert {m: rows[m] for m in STALE_RATES if m in rows} == dict.fromkeys(STALE_RATES, ("stale", "red"))
    summary = re.search(r"^(\d+) red, (\d+) amber, (\d+) green", done.stdout, re.MULTILINE)
    assert summary is not None and int(summary.group(1)) >= len(INCIDENT_REDS)
