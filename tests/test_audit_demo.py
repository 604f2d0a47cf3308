"""Every audit cut in audit_cuts/ computes on the demo world at scale 1, its payload validates, and the
incidents the demo injects show in the takeaways (the cuts read the source schemas directly: marts has
the same schema and table names)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from heartbeat_core.audit import cut_view, discover, page_view, refresh_cuts, validate_payload
from heartbeat_core.settings import get_settings
from heartbeat_demo.world import build_world

pytestmark = [pytest.mark.db, pytest.mark.slow]


def test_every_cut_computes_on_the_demo_world(marts_url: str, tmp_path: Path) -> None:
    build_world(marts_url, tmp_path / "files", scale=1)
    found = discover(get_settings().audit_cuts)
    assert not found.problems, [str(p) for p in found.problems]
    assert len(found.cuts) >= 15
    pages = {c.meta.page for c in found.cuts}
    assert {"clients", "journeys", "risk"} <= pages
    report = refresh_cuts()
    assert report.ok, [f"{o.cut_id}[{o.window}]: {o.error}" for o in report.failed]
    assert len(report.outcomes) == sum(len(c.meta.windows) for c in found.cuts)
    print(f"refreshed {len(report.outcomes)} snapshots in {report.seconds:.1f} s")
    kinds = {c.meta.kind for c in found.cuts}
    assert kinds == {"bar", "line", "stacked", "funnel", "table", "heat_table"}
    with psycopg.connect(marts_url) as conn:
        for cut in found.cuts:
            for window in cut.meta.windows:
                view = cut_view(conn, cut.cut_id, window)
                assert view["error"] is None
                validate_payload(cut.meta.kind, view["payload"])
                assert view["payload"]["takeaway"]
            assert cut.meta.description and cut.meta.how_to_read, cut.cut_id
        for page in ("clients", "journeys", "risk"):
            assert page_view(conn, page)["cuts"]
        acme = cut_view(conn, "risk_collateral_overdue_by_client")["payload"]
        assert acme["rows"][0]["client"] == "ACME Ltd" and acme["rows"][0]["critical"]
        assert "ACME Ltd" in acme["takeaway"]
        aml = cut_view(conn, "risk_aml_backlog_by_reviewer")["payload"]["takeaway"]
        assert all(name in aml for name in ("c.muller", "d.rossi", "e.novak")), aml
        rejections = cut_view(conn, "journeys_rejections_by_currency", "7d")["payload"]
        eur = rejections["columns"].index("EUR")
        usd = rejections["columns"].index("USD")
        # Today may hold only a few minutes of payments; judge the busier of the two incident days.
        recent = [row for row in rejections["values"][:2] if row[usd] is not None]
        worst = max(recent, key=lambda row: row[usd])
        assert worst[usd] > 50 > worst[eur]
