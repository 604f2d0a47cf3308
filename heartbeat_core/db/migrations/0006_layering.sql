-- The layering issue's shared shapes (CONTRACTS.md "Alerts" and "Migrations").
--
-- A notification has a subject: (subject_type, subject_id). Every existing row is about a metric. metric_id
-- stays for metric subjects and becomes nullable for the others (an incident, a source test).
-- The kind and subject-type CHECKs list the whole vocabulary of heartbeat_core/alerts/kinds.py up front, so the
-- issues that fill it in never redefine them (two parallel redefinitions would each drop the other's value);
-- tests/test_alerts_schema.py keeps these lists equal to the Python Literals.
--
-- The job phase is checked in code (JobPhase in heartbeat_core/jobs/ledger.py, validated where the runner
-- writes it), so a new phase is a code change, not a migration.

ALTER TABLE heartbeat.alert_notification
    ADD COLUMN subject_type text,
    ADD COLUMN subject_id text;

UPDATE heartbeat.alert_notification SET subject_type = 'metric', subject_id = metric_id;

ALTER TABLE heartbeat.alert_notification
    ALTER COLUMN subject_type SET NOT NULL,
    ALTER COLUMN subject_id SET NOT NULL,
    ALTER COLUMN metric_id DROP NOT NULL,
    DROP CONSTRAINT alert_notification_kind_check,
    ADD CONSTRAINT alert_notification_kind_check CHECK (kind IN (
        'red', 'amber', 'stale', 'resolved', 'reminder', 'implausible',
        'entity_new', 'entity_worse', 'entity_gone',
        'incident_opened', 'incident_updated', 'incident_resolved',
        'test_failed', 'test_passed')),
    ADD CONSTRAINT alert_notification_subject_type_check CHECK (subject_type IN (
        'metric', 'entity', 'incident', 'source_test')),
    ADD CONSTRAINT alert_notification_metric_subject_check CHECK (
        subject_type <> 'metric' OR (metric_id IS NOT NULL AND metric_id = subject_id));

CREATE INDEX alert_notification_subject
    ON heartbeat.alert_notification (subject_type, subject_id, created_at DESC);

ALTER TABLE heartbeat.recompute_job DROP CONSTRAINT recompute_job_phase_check;
