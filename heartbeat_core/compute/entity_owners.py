"""Who owns each entity a metric lists (`-- entity_owner: client:client_id`), recorded at compute so that
acknowledging the owner (`client:42`) covers its invoices in every metric (`readmodel.acknowledged`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from heartbeat_core.compute.entities import EntitySet


def record_owners(conn: psycopg.Connection[Any], entities: EntitySet, now: datetime) -> int:
    """Upsert the owner of every kept row that names one; rows whose owner did not change are not rewritten
    (the table bumps the read-model version). Returns how many rows changed."""
    pairs = sorted({(r.key, r.owner) for r in entities.rows if r.owner is not None})
    if entities.owner_type is None or not pairs:
        return 0
    with conn.cursor() as cur:
        cur.execute(
            """INSERT INTO heartbeat.entity_owner AS o (entity_type, entity_key, owner_type, owner_key, seen_at)
               SELECT %s, k, %s, v, %s FROM unnest(%s::text[], %s::text[]) AS t(k, v)
               ON CONFLICT (entity_type, entity_key) DO UPDATE
                   SET owner_type = excluded.owner_type, owner_key = excluded.owner_key, seen_at = excluded.seen_at
                   WHERE (o.owner_type, o.owner_key) IS DISTINCT FROM (excluded.owner_type, excluded.owner_key)""",
            (entities.type, entities.owner_type, now, [k for k, _ in pairs], [v for _, v in pairs]),
        )
        return cur.rowcount
