"""Webhook sources: pushed, not pulled. A batch of JSON events arrives (`land_events`) and lands in
the source's one table through dlt like every other kind; a pull run skips the source."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import dlt

from heartbeat_core.ingest.config import ResolvedTable, WebhookSource, WriteDisposition
from heartbeat_core.ingest.connectors.base import Built, Connector
from heartbeat_core.ingest.errors import IngestError

if TYPE_CHECKING:
    from dlt.extract.resource import DltResource


class WebhookConnector(Connector[WebhookSource]):
    kind = "webhook"
    pulled = False

    def build(
        self,
        source: WebhookSource,
        tables: list[ResolvedTable],
        modes: Mapping[str, WriteDisposition],
        resume_from: Mapping[str, Any],
    ) -> Built:
        raise IngestError(f"source {source.name!r}: webhook sources are pushed (land_events), not pulled")


def events_resource(
    table: ResolvedTable, events: list[dict[str, Any]], disposition: WriteDisposition
) -> DltResource:
    """One pushed batch as the resource of the source's table."""
    return dlt.resource(
        events,
        name=table.name,
        write_disposition=disposition,
        primary_key=table.primary_key or None,  # type: ignore[arg-type]  # dlt's hint type; a list of names
    )
