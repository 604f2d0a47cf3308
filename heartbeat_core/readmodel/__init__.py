"""The read model: status contract, freshness, typical bands, the ranked snapshot and triage over it.

Every surface reads what it shows through this package; the names below are the snapshot's public face.
"""

from heartbeat_core.readmodel.snapshot import (
    CockpitSnapshot,
    HistoryPoint,
    LastJob,
    MetricState,
    cockpit_snapshot,
    last_job,
    metric_definition,
    metric_detail,
    metric_history,
    metric_states,
    read_model_version,
)

__all__ = [
    "CockpitSnapshot",
    "HistoryPoint",
    "LastJob",
    "MetricState",
    "cockpit_snapshot",
    "last_job",
    "metric_definition",
    "metric_detail",
    "metric_history",
    "metric_states",
    "read_model_version",
]
