"""Connectors per source kind, all of one shape (`base.Connector`), chosen by the config's `kind`."""

from __future__ import annotations

from typing import Any

from heartbeat_core.ingest.config import AnySource
from heartbeat_core.ingest.connectors.base import Built, Changes, Connector
from heartbeat_core.ingest.connectors.files import FilesConnector
from heartbeat_core.ingest.connectors.postgres import PostgresConnector
from heartbeat_core.ingest.connectors.rest import RestConnector
from heartbeat_core.ingest.connectors.webhook import WebhookConnector

CONNECTORS: dict[str, Connector[Any]] = {
    connector.kind: connector
    for connector in (PostgresConnector(), RestConnector(), FilesConnector(), WebhookConnector())
}


def connector_for(source: AnySource) -> Connector[Any]:
    """The connector of the source's kind (sources.toml validation admits only these kinds)."""
    return CONNECTORS[source.kind]


__all__ = ["CONNECTORS", "Built", "Changes", "Connector", "connector_for"]
