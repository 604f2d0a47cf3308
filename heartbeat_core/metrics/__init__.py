"""Metric definitions: parsing `metric_defs/*.sql`, syncing them into the registry, operator edits."""
