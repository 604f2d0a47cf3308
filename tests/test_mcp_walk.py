"""An agent's walk on the demo world through the real MCP client (issue 14): "what's wrong today, what first,
who is affected, what is new, what should we not trust?" answered from `today`'s first answer alone.

The world as a deployment sees it mid-morning: the daily audit refresh ran hours ago and the hourly ingest
landed since, so the audit snapshots are older than the data they summarise. The walk counts its calls and
the characters it read (bench/RESULTS.md, "Incidents and the agent's walk")."""

from __future__ import annotations

import json
import re
from typing import Any

import anyio
import psycopg
import pytest
from mcp import Client

from heartbeat_core.compute.engine import compute_metrics
from heartbeat_core.db import connect
from heartbeat_core.readmodel.typical import refresh_typical
from heartbeat_mcp.server import build_server
from tests.test_mcp import data, text_of

pytestmark = [pytest.mark.db, pytest.mark.slow]

ANSWER_BUDGET = 12_000
NON_EUR = {"USD", "GBP", "CHF", "PLN", "SEK", "NOK", "DKK"}
STALLED = {"c.muller", "d.rossi", "e.novak"}  # characters of the first answer, as the client serialises it


def _incident(answer: dict[str, Any], metric_id: str) -> dict[str, Any]:
    found = [i for i in answer["incidents"] if metric_id in i["metrics"]]
    assert len(found) == 1, (metric_id, [i["metrics"] for i in answer["incidents"]])
    return found[0]


def test_one_call_answers_the_agents_questions(demo_world: Any) -> None:
    with psycopg.connect(demo_world.marts_url, autocommit=True) as conn:  # the 04:45 audit refresh, hours ago
        conn.execute("UPDATE heartbeat.audit_cut_snapshot SET computed_at = computed_at - interval '5 hours'")
    # a deployment with months of history: revenue_24h's weekday band (8 same weekdays) holds, so it is red
    compute_metrics(["revenue_24h"], backfill_days=70)
    with connect() as conn:
        refresh_typical(conn, ["revenue_24h"])
        conn.commit()

    walk: dict[str, int] = {"calls": 0, "chars": 0}

    async def main() -> None:
        async with Client(build_server(actor="walk-test")) as client:
            result = await client.call_tool("today", {})
            walk["calls"] += 1
            walk["chars"] += len(
                json.dumps(result.model_dump(by_alias=True, exclude_none=True), ensure_ascii=False)
            )
            answer, text = data(result), text_of(result.content[0])
            print(text)

            # What is wrong, what first: the incidents, worst first, each with its headline and members.
            collateral = _incident(answer, "card_collateral_overdue_clients")
            assert "card_collateral_overdue_amount" in collateral["metrics"]
            aml = _incident(answer, "aml_review_backlog")
            assert {"aml_review_backlog_days", "aml_reviews_pending_over_72h"} <= set(aml["metrics"])
            screening = _incident(answer, "outgoing_payment_approval_rate_24h")
            rates = _incident(answer, "currency_rate_coverage")
            assert rates["status"] == "stale" and rates["stale_sources"] == ["currency_rates"]
            assert len({collateral["incident_id"], aml["incident_id"], screening["incident_id"]}) == 3
            assert answer["incidents"][0]["status"] == "red"
            # a revenue knock-on is in the answer (seg's drivers put it under the screening incident)
            knock_ons = {"revenue_24h", "revenue_7d"} & {m for i in answer["incidents"] for m in i["metrics"]}
            assert knock_ons, [i["metrics"] for i in answer["incidents"]]
            # The screening incident holds both revenue knock-ons (shared currency drivers, no relation
            # declared); its drivers are non-EUR currencies; the AML incident's name the stalled reviewers.
            assert {"revenue_24h", "revenue_7d"} <= set(screening["metrics"]), screening
            currencies = {d["segment"] for d in screening["drivers"]}
            assert currencies and currencies <= NON_EUR, screening["drivers"]
            assert {d["segment"] for d in aml["drivers"]} == STALLED, aml["drivers"]
            assert all(name in text for name in STALLED) and "USD" in text

            # Who is affected: ACME Ltd, by name, in the incident and in the briefing.
            assert collateral["entities"] == ["ACME Ltd"] and "who: ACME Ltd" in text
            for incident in answer["incidents"]:  # the briefing names every incident and its members by name
                assert incident["incident_id"] in text and incident["headline"] in text
            assert "Overdue card collateral amount EUR 76.5k (red)" in text

            # What is new: the colour changes since yesterday (and incidents or entities that started).
            new = [c["metric_id"] for c in answer["changed"] if c["worse"]] + [
                n["subject"] for n in answer["new"]
            ]
            assert new and "Changed since yesterday:" in text

            # What not to trust: the stale source, and audit snapshots older than the data they summarise.
            kinds = {n["kind"]: n for n in answer["not_to_trust"]}
            assert kinds["stale_source"]["subject"] == "currency_rates"
            assert set(kinds["stale_source"]["metrics"]) >= set(rates["metrics"]) - {"payment_volume_eur_24h"}
            assert "journeys_stage_times" in kinds["audit_cut"]["subject"].split(",")
            assert re.search(r"- \d+ audit cuts older than the data they summarise \(oldest snapshot ", text)
            assert "- source currency_rates red" in text

    anyio.run(main)
    print(f"agent walk on the demo world: {walk['calls']} call(s), {walk['chars']} characters")
    assert walk["calls"] == 1 and walk["chars"] <= ANSWER_BUDGET
