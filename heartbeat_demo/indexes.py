"""The post-ingest indexes the demo metrics need on the landed (marts) tables.

dlt lands tables without metric-aware indexes (not even on `id`), so every WHERE and JOIN column the
metric SQL in metric_defs/ uses is indexed here. The ingest engine applies these idempotently after each
load (they are mirrored in sources.toml); `check.prepare_source_for_metrics` applies them to a source
database so the metric SQL can be timed on it. docs/demo-world.md lists them with their reasons.
"""

from __future__ import annotations

POST_INGEST_INDEXES: dict[str, list[str]] = {
    "webbank": [
        "CREATE INDEX IF NOT EXISTS payment_id_idx ON webbank.payment (id)",
        "CREATE INDEX IF NOT EXISTS payment_create_time_idx ON webbank.payment (create_time)",
        "CREATE INDEX IF NOT EXISTS payment_type_create_time_idx ON webbank.payment (type_id, create_time)",
        "CREATE INDEX IF NOT EXISTS payment_sender_create_time_idx ON webbank.payment (sender_profile_id, create_time)",
        'CREATE INDEX IF NOT EXISTS payment_state_log_state_ts_idx ON webbank.payment_state_log (state_id, "timestamp")',
        "CREATE INDEX IF NOT EXISTS payment_state_log_payment_idx ON webbank.payment_state_log (payment_id)",
        "CREATE INDEX IF NOT EXISTS entry_create_time_idx ON webbank.entry (create_time)",
        "CREATE INDEX IF NOT EXISTS client_profile_id_idx ON webbank.client_profile (id)",
        "CREATE INDEX IF NOT EXISTS client_profile_created_at_idx ON webbank.client_profile (created_at)",
        'CREATE INDEX IF NOT EXISTS client_profile_state_log_state_ts_idx ON webbank.client_profile_state_log (profile_state, "timestamp")',
        "CREATE INDEX IF NOT EXISTS client_profile_state_log_client_idx ON webbank.client_profile_state_log (client_profile_id)",
    ],
    "aml": [
        "CREATE INDEX IF NOT EXISTS aml_retrospective_created_at_idx ON aml.aml_retrospective (created_at)",
        "CREATE INDEX IF NOT EXISTS aml_retrospective_reviewed_at_idx ON aml.aml_retrospective (reviewed_at)",
    ],
    "card_management": [
        "CREATE INDEX IF NOT EXISTS card_id_idx ON card_management.card (id)",
        "CREATE INDEX IF NOT EXISTS card_issued_at_idx ON card_management.card (issued_at)",
        "CREATE INDEX IF NOT EXISTS collateral_invoice_due_date_idx ON card_management.collateral_invoice (due_date)",
    ],
    "helpdesk": [
        "CREATE INDEX IF NOT EXISTS ticket_created_at_idx ON helpdesk.ticket (created_at)",
        "CREATE INDEX IF NOT EXISTS ticket_resolved_at_idx ON helpdesk.ticket (resolved_at)",
    ],
    "currency_rates": [
        "CREATE INDEX IF NOT EXISTS rates_currency_idx ON currency_rates.rates (currency)",
    ],
}
