"""REST sources: dlt's rest_api over a paginated JSON API (`next_page` links), incremental on a
`since` query parameter, with an optional bearer token from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from heartbeat_core.ingest.config import ResolvedTable, RestSource, RestTable, WriteDisposition
from heartbeat_core.ingest.connectors.base import Built, Connector
from heartbeat_core.ingest.errors import IngestError

if TYPE_CHECKING:
    from dlt.extract.resource import DltResource


class RestConnector(Connector[RestSource]):
    kind = "rest"

    def secrets(self, source: RestSource) -> tuple[str, ...]:
        token = _token(source)
        return (token,) if token else ()

    def build(
        self,
        source: RestSource,
        tables: list[ResolvedTable],
        modes: Mapping[str, WriteDisposition],
        resume_from: Mapping[str, Any],
    ) -> Built:
        base = (
            os.environ.get(source.base_url_env, "").strip() if source.base_url_env else ""
        ) or source.base_url
        if not base:
            raise IngestError(
                f"source {source.name!r}: environment variable {source.base_url_env} is not set"
            )
        return Built(resources=rest_resources(source, tables, base.rstrip("/"), _token(source), modes))


def _token(source: RestSource) -> str | None:
    token = os.environ.get(source.token_env, "").strip() if source.token_env else None
    return token or None


class NextPagePaginator:
    """`{"items": [...], "page": N, "next_page": N+1 | null}`: follow `next_page` until it is null."""

    def __new__(cls, page_param: str, next_page_path: str) -> Any:
        from dlt.sources.helpers.rest_client.paginators import BasePaginator

        class _Paginator(BasePaginator):
            def __init__(self) -> None:
                super().__init__()
                self.next_page: Any = None

            def init_request(self, request: Any) -> None:
                self._has_next_page = True
                self.next_page = None

            def update_state(self, response: Any, data: list[Any] | None = None) -> None:
                try:
                    body = response.json()
                except ValueError as exc:
                    raise IngestError(f"response is not valid JSON: {exc}") from None
                value = body.get(next_page_path) if isinstance(body, dict) else None
                self.next_page = value
                self._has_next_page = value is not None

            def update_request(self, request: Any) -> None:
                if request.params is None:
                    request.params = {}
                request.params[page_param] = self.next_page

        return _Paginator()


def _params(source: RestSource, table: ResolvedTable, spec: RestTable) -> dict[str, Any]:
    params: dict[str, Any] = dict(spec.params)
    if source.per_page_param:
        params.setdefault(source.per_page_param, source.per_page)
    params.setdefault(source.page_param, 1)
    if spec.since_param and table.cursor:
        params[spec.since_param] = {
            "type": "incremental",
            "cursor_path": table.cursor,
            "initial_value": spec.initial_since,
        }
    return params


def rest_resources(
    source: RestSource,
    tables: list[ResolvedTable],
    base_url: str,
    token: str | None,
    dispositions: Mapping[str, WriteDisposition],
) -> dict[str, DltResource]:
    from dlt.sources.helpers import requests as dlt_requests
    from dlt.sources.rest_api import rest_api_resources

    client = dlt_requests.Client(
        request_timeout=source.timeout_s,
        request_max_attempts=source.max_attempts,
        request_backoff_factor=0.2,
        request_max_retry_delay=2,
        raise_for_status=True,
    )
    out: dict[str, DltResource] = {}
    for table in tables:
        spec = table.spec
        assert isinstance(spec, RestTable)
        client_cfg: dict[str, Any] = {
            "base_url": base_url,
            "paginator": NextPagePaginator(source.page_param, source.next_page_path),
            "session": client.session,
        }
        if token:
            client_cfg["auth"] = {"type": "bearer", "token": token}
        resource_cfg: dict[str, Any] = {
            "name": table.name,
            "write_disposition": dispositions[table.name],
            "endpoint": {
                "path": spec.path,
                "params": _params(source, table, spec),
                "data_selector": spec.data_selector,
            },
        }
        if table.primary_key:
            resource_cfg["primary_key"] = table.primary_key
        config: Any = {"client": client_cfg, "resources": [resource_cfg]}
        (resource,) = rest_api_resources(config)
        out[table.name] = resource
    return out
