"""Audit cut machinery over the mini world: discovery, META and payload validation, registry sync and
retirement, snapshot refresh (read-only, timeout, last good kept), reads, operator edits, the CLI."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
import pytest

from heartbeat_core import clock
from heartbeat_core.audit import (
    CutInputError,
    PayloadError,
    UnknownCut,
    UnknownPage,
    cut_view,
    cuts_for_metric,
    discover,
    page_view,
    pages_index,
    refresh_cuts,
    registry_view,
    set_cut_fields,
    summarize_cut,
    sync_cuts,
    validate_payload,
)
from heartbeat_core.formatting import format_number
from heartbeat_core.settings import reset_settings

pytestmark = pytest.mark.db

REPO = Path(__file__).resolve().parent.parent

UNPAID = '''
from heartbeat_core.audit.helpers import rows

META = {
    "page": "money",
    "title": "Unpaid invoices by customer",
    "kind": "bar",
    "window_default": "30d",
    "windows": ["30d", "90d"],
    "metrics": ["shop_unpaid_invoices"],
    "description": "Who owes money?",
    "how_to_read": "Longest bar first.",
    "order": 1,
    "owner": "finance@example.com",
}


def compute(conn, *, window):
    found = rows(conn, """SELECT customer, sum(amount) AS owed FROM shop.invoices
                          WHERE paid_at IS NULL GROUP BY customer ORDER BY owed DESC""")
    return {
        "takeaway": f"{found[0]['customer']} owes EUR {found[0]['owed']:,.0f}",
        "unit": "money:EUR",
        "bars": [{"label": r["customer"], "value": r["owed"], "highlight": i == 0} for i, r in enumerate(found)],
        "lines": {"alert": 10000},
    }
'''

ORDERS = '''
from heartbeat_core.audit.helpers import rows, window_days

META = {"page": "money", "title": "Orders per day", "kind": "line", "order": 2,
        "metrics": ["shop_orders_24h", "no_such_metric"]}


def compute(conn, *, window):
    found = rows(conn, """SELECT date_trunc('day', created_at)::date AS day, count(*) AS n FROM shop.orders
                          WHERE created_at >= heartbeat.as_of() - make_interval(days => %(days)s)
                          GROUP BY 1 ORDER BY 1""", {"days": window_days(window)})
    return {"takeaway": f"{len(found)} days", "series": [{"name": "orders", "points": [
        {"x": r["day"], "y": r["n"]} for r in found]}]}
'''

FLAKY = """
import os

META = {"page": "money", "title": "Flaky <b>cut</b>", "kind": "table", "windows": ["30d"], "order": 3}


def compute(conn, *, window):
    mode = os.environ.get("FLAKY_MODE", "ok")
    if mode == "raise":
        raise RuntimeError("source table vanished")
    if mode == "write":
        conn.execute("CREATE TABLE shop.oops (x int)")
    if mode == "slow":
        conn.execute("SELECT pg_sleep(5)")
    if mode == "bad_payload":
        return {"takeaway": "x", "columns": [{"key": "a", "label": "A"}], "rows": [{"b": 1}]}
    return {"takeaway": "all good", "columns": [{"key": "a", "label": "A"}], "rows": [{"a": 1}]}
"""


def write_cuts(directory: Path, **modules: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, source in modules.items():
        (directory / f"{name}.py").write_text(textwrap.dedent(source))
    return directory


@pytest.fixture
def cuts_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = write_cuts(tmp_path / "cuts", money_unpaid=UNPAID, money_orders=ORDERS, money_flaky=FLAKY)
    monkeypatch.setenv("HEARTBEAT_AUDIT_CUTS", str(directory))
    monkeypatch.delenv("FLAKY_MODE", raising=False)
    reset_settings()
    return directory


# ------------------------------------------------------------------------------------ validation


def test_payload_validation_names_the_field() -> None:
    ok = validate_payload("bar", {"takeaway": "t", "bars": [{"label": "a", "value": 1}]})
    assert ok["bars"][0]["value"] == 1.0 and ok["unit"] == "count"
    with pytest.raises(PayloadError, match="bars"):
        validate_payload("bar", {"takeaway": "t", "bars": [{"label": "a"}]})
    with pytest.raises(PayloadError, match="takeaway"):
        validate_payload("funnel", {"steps": [{"label": "a", "value": 3}]})
    with pytest.raises(PayloadError, match="3 values for 2 categories"):
        validate_payload(
            "stacked",
            {"takeaway": "t", "categories": ["a", "b"], "series": [{"name": "s", "values": [1, 2, 3]}]},
        )
    with pytest.raises(PayloadError, match="cells for 2 columns"):
        validate_payload(
            "heat_table", {"takeaway": "t", "rows": ["r"], "columns": ["a", "b"], "values": [[1.0]]}
        )
    with pytest.raises(PayloadError, match="unknown key"):
        validate_payload(
            "table", {"takeaway": "t", "columns": [{"key": "a", "label": "A"}], "rows": [{"zz": 1}]}
        )
    with pytest.raises(PayloadError, match="finite"):
        validate_payload(
            "line", {"takeaway": "t", "series": [{"name": "s", "points": [{"x": "a", "y": float("nan")}]}]}
        )
    with pytest.raises(PayloadError, match="unknown kind"):
        validate_payload("pie", {"takeaway": "t"})
    with pytest.raises(PayloadError, match="expected a dict"):
        validate_payload("bar", [1, 2])
    with pytest.raises(PayloadError, match="colour: Extra inputs"):
        validate_payload("funnel", {"takeaway": "t", "steps": [{"label": "a", "value": 1}], "colour": "red"})


def test_discovery_reports_broken_modules_with_their_file(tmp_path: Path) -> None:
    directory = write_cuts(
        tmp_path / "cuts",
        good=UNPAID,
        syntax="META = {\n  'page': 'x',\n def",
        no_meta="def compute(conn, *, window):\n    return {}\n",
        bad_kind="META = {'page': 'x', 'title': 't', 'kind': 'pie'}\ndef compute(conn, *, window): ...\n",
        bad_window="META = {'page': 'x', 'title': 't', 'kind': 'bar', 'window_default': '7d', 'windows': ['30d']}\n"
        "def compute(conn, *, window): ...\n",
        no_window_arg="META = {'page': 'x', 'title': 't', 'kind': 'bar'}\ndef compute(conn): ...\n",
        explodes="raise ImportError('boom')\n",
        _helper="X = 1\n",
    )
    (directory / "Bad-Name.py").write_text(UNPAID)
    found = discover(directory)
    assert [c.cut_id for c in found.cuts] == ["good"]
    problems = {Path(p.path).name: p.message for p in found.problems}
    assert "syntax error" in problems["syntax.py"] and "line" in problems["syntax.py"]
    assert "no META" in problems["no_meta.py"]
    assert "kind" in problems["bad_kind.py"]
    assert "window_default" in problems["bad_window.py"]
    assert "window" in problems["no_window_arg.py"]
    assert "boom" in problems["explodes.py"]
    assert "lower_snake_case" in problems["Bad-Name.py"]
    assert "_helper" not in found.present


# ------------------------------------------------------------------------------- sync + refresh


def test_sync_registers_keeps_operator_columns_and_retires(mini_world: str, cuts_dir: Path) -> None:
    with psycopg.connect(mini_world) as conn:
        report = sync_cuts(conn)
        assert sorted(report.added) == ["money_flaky", "money_orders", "money_unpaid"]
        assert any("no_such_metric" in w for w in report.warnings)
        set_cut_fields(conn, "money_unpaid", {"verification_state": "verified"}, actor="test")
        set_cut_fields(conn, "money_orders", {"owner": "ops@example.com"}, actor="test")
        # A broken edit keeps the row as it was; a removed module retires its cut.
        (cuts_dir / "money_unpaid.py").write_text("META = {")
        (cuts_dir / "money_flaky.py").unlink()
        report = sync_cuts(conn)
        assert report.retired == ["money_flaky"]
        assert [Path(p.path).name for p in report.problems] == ["money_unpaid.py"]
        (cuts_dir / "money_unpaid.py").write_text(
            textwrap.dedent(UNPAID).replace("Who owes", "Who still owes")
        )
        report = sync_cuts(conn)
        assert report.updated == ["money_unpaid"] and report.ok
        rows = {r["cut_id"]: r for r in registry_view(conn)}
    assert set(rows) == {"money_unpaid", "money_orders"}
    assert rows["money_unpaid"]["verification_state"] == "verified"
    assert rows["money_unpaid"]["description"] == "Who still owes money?"
    assert rows["money_unpaid"]["owner"] == "finance@example.com"  # from META
    assert rows["money_orders"]["owner"] == "ops@example.com"  # operator-set, kept


def test_refresh_stores_snapshots_and_a_failing_cut_keeps_its_last_good_one(
    mini_world: str, cuts_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = refresh_cuts()
    assert report.ok, [o.error for o in report.failed]
    assert sorted((o.cut_id, o.window) for o in report.outcomes) == [
        ("money_flaky", "30d"),
        ("money_orders", "30d"),
        ("money_orders", "7d"),
        ("money_orders", "90d"),
        ("money_unpaid", "30d"),
        ("money_unpaid", "90d"),
    ]
    with psycopg.connect(mini_world) as conn:
        good = cut_view(conn, "money_flaky")
    assert good["payload"]["takeaway"] == "all good" and good["error"] is None
    assert good["freshness"] == "fresh"

    expectations = {
        "raise": "RuntimeError: source table vanished (money_flaky.py:",
        "write": "tries to write",
        "slow": "timed out after 0.5 s",
        "bad_payload": "table payload: rows[0]: unknown key b",
    }
    for mode, message in expectations.items():
        monkeypatch.setenv("FLAKY_MODE", mode)
        report = refresh_cuts(["money_flaky"], timeout_s=0.5)
        assert not report.ok
        assert message in (report.failed[0].error or ""), report.failed[0].error
        with psycopg.connect(mini_world) as conn:
            view = cut_view(conn, "money_flaky")
            assert view["payload"]["takeaway"] == "all good"  # the last good payload stays
            assert view["computed_at"] == good["computed_at"]
            assert message in view["error"]
            assert conn.execute("SELECT to_regclass('shop.oops')").fetchone() == (None,)
    monkeypatch.setenv("FLAKY_MODE", "ok")
    assert refresh_cuts(["money_flaky"]).ok
    with psycopg.connect(mini_world) as conn:
        assert cut_view(conn, "money_flaky")["error"] is None


def test_refresh_of_an_unknown_cut_names_the_closest(mini_world: str, cuts_dir: Path) -> None:
    with pytest.raises(UnknownCut, match="money_unpaid"):
        refresh_cuts(["money_unpiad"])


# ----------------------------------------------------------------------------------------- reads


def test_pages_cuts_windows_and_metric_links(mini_world: str, cuts_dir: Path) -> None:
    refresh_cuts()
    with psycopg.connect(mini_world) as conn:
        page = page_view(conn, "money", "7d")
        assert [c["cut_id"] for c in page["cuts"]] == ["money_unpaid", "money_orders", "money_flaky"]
        unpaid, orders, _flaky = page["cuts"]
        # A cut without the requested window shows its default and says so.
        assert unpaid["window"] == "30d" and unpaid["window_fixed"]
        assert orders["window"] == "7d" and not orders["window_fixed"]
        assert len(orders["payload"]["series"][0]["points"]) in (7, 8)
        assert unpaid["payload"]["takeaway"] == "ACME Ltd owes EUR 12,400"
        assert unpaid["metrics"][0]["status"] == "red"
        assert unpaid["metrics"][0]["url"] == "/metrics/shop_unpaid_invoices"
        assert orders["metrics"][1]["status"] is None  # not in the registry: shown, not linked
        links = cuts_for_metric(conn, "shop_unpaid_invoices")
        assert [link["cut_id"] for link in links] == ["money_unpaid"]
        assert links[0]["url"] == "/audit/money#cut-money_unpaid"
        assert links[0]["takeaway"] == "ACME Ltd owes EUR 12,400"
        assert cuts_for_metric(conn, "rates_coverage") == []
        index = pages_index(conn)
        assert [p["page"] for p in index] == ["money"] and index[0]["counts"]["cuts"] == 3
        summary = summarize_cut(unpaid)
        assert summary["top"][0] == {"label": "ACME Ltd", "value": format_number(12400, "money:EUR")}
        json.dumps(summary)
        with pytest.raises(UnknownPage, match="money"):
            page_view(conn, "mony")


def test_snapshot_freshness_ages_with_the_clock(mini_world: str, cuts_dir: Path) -> None:
    from datetime import timedelta

    refresh_cuts(["money_unpaid"])
    with psycopg.connect(mini_world) as conn:
        now = clock.now()
        assert cut_view(conn, "money_unpaid", now=now + timedelta(hours=40))["freshness"] == "amber"
        stale = cut_view(conn, "money_unpaid", now=now + timedelta(days=4))
        assert stale["freshness"] == "red" and "red after 72 h" in stale["freshness_reason"]
        never = cut_view(conn, "money_orders")
        assert never["payload"] is None and never["freshness"] == "red"


def test_operator_edits_validate_and_are_recorded(mini_world: str, cuts_dir: Path) -> None:
    with psycopg.connect(mini_world) as conn:
        sync_cuts(conn)
        result = set_cut_fields(
            conn,
            "money_unpaid",
            {"owner": " ops@example.com ", "verification_state": "verified"},
            actor="ann",
        )
        assert result["owner"] == "ops@example.com" and result["verification_state"] == "verified"
        assert set_cut_fields(conn, "money_unpaid", {"owner": None}, actor="ann")["owner"] is None
        for bad, message in (
            ({"owner": "not-an-email"}, "owner"),
            ({"verification_state": "maybe"}, "verification_state"),
            ({"colour": "red"}, "unknown field"),
            ({}, "nothing to change"),
        ):
            with pytest.raises(CutInputError, match=message):
                set_cut_fields(conn, "money_unpaid", bad, actor="ann")
        with pytest.raises(UnknownCut):
            set_cut_fields(conn, "nope", {"owner": None}, actor="ann")
        edits = conn.execute(
            "SELECT field, old_value, new_value, actor FROM heartbeat.operator_edit"
            " WHERE subject_kind = 'audit_cut' ORDER BY id"
        ).fetchall()
    assert edits == [
        ("owner", "finance@example.com", "ops@example.com", "ann"),
        ("verification_state", "unverified", "verified", "ann"),
        ("owner", "ops@example.com", None, "ann"),
    ]


# ------------------------------------------------------------------------------------------- CLI


def _cli(*args: str, env_extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **env_extra}
    return subprocess.run(
        [sys.executable, "-m", "heartbeat_cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )


def test_cli_refresh_list_show_and_sync(mini_world: str, cuts_dir: Path, tmp_path: Path) -> None:
    env = {
        "HEARTBEAT_DATABASE_URL": mini_world,
        "HEARTBEAT_AUDIT_CUTS": str(cuts_dir),
        "HEARTBEAT_HOME": str(tmp_path / "home"),
        "HEARTBEAT_METRIC_DEFS": str(REPO / "tests" / "fixtures" / "mini_defs"),
    }
    synced = _cli("sync", env_extra=env)
    assert synced.returncode == 0, synced.stderr
    assert "3 added" in synced.stdout
    done = _cli("audit", "refresh", "money_unpaid", "--json", env_extra=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["computed"] == 2
    listed = _cli("audit", "list", "--json", env_extra=env)
    assert listed.returncode == 0, listed.stderr
    assert {r["cut_id"] for r in json.loads(listed.stdout)} == {"money_unpaid", "money_orders", "money_flaky"}
    shown = _cli("audit", "show", "money_unpaid", env_extra=env)
    assert shown.returncode == 0 and "ACME Ltd owes" in shown.stdout
    assert _cli("audit", "refresh", "money_orders", env_extra=env).returncode == 0
    days = _cli("audit", "show", "money_orders", env_extra=env)  # a line over days: its top rows name them
    assert days.returncode == 0 and re.search(r"\d{1,2} [A-Z][a-z]{2} \((\d+ d ago|today)\)", days.stdout), (
        days.stdout
    )
    assert not re.search(r"\d{4}-\d{2}-\d{2}", shown.stdout + days.stdout), shown.stdout + days.stdout
    unknown = _cli("audit", "refresh", "money_unpiad", env_extra=env)
    assert unknown.returncode == 1
    assert unknown.stderr.strip().startswith("heartbeat: unknown audit cut 'money_unpiad'")
    assert len(unknown.stderr.strip().splitlines()) == 1
    failing = _cli("audit", "refresh", "money_flaky", env_extra={**env, "FLAKY_MODE": "raise"})
    assert failing.returncode == 1 and "source table vanished" in failing.stderr


def test_the_scheduler_hook_refreshes_and_reports_failures(
    mini_world: str, cuts_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from heartbeat_core.jobs import scheduler

    assert scheduler.run_audit_refresh() == []
    with psycopg.connect(mini_world) as conn:
        assert cut_view(conn, "money_orders", "90d")["payload"] is not None
    monkeypatch.setenv("FLAKY_MODE", "raise")
    failures = scheduler.run_audit_refresh()
    assert len(failures) == 1 and "1 of 6 audit snapshots failed, 0 broken cut files" in failures[0]
    assert "money_flaky[30d]" in failures[0]
    with psycopg.connect(mini_world) as conn:
        kept = cut_view(conn, "money_flaky")
    assert kept["payload"]["takeaway"] == "all good" and "vanished" in kept["error"]
