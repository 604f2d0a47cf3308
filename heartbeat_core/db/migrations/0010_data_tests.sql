-- Data tests on landed tables (issue 18): one row per declared test, its latest verdict, a few redacted sample
-- rows, and when it first failed / last passed. The read model shows failing tests as `suspect` flags on the
-- metrics whose SQL reads the table, so the table bumps the read-model version.

CREATE TABLE heartbeat.source_test (
    source text NOT NULL,
    table_name text NOT NULL,
    test_key text NOT NULL,            -- `unique:payment_id`: the test and its columns, stable across runs
    test text NOT NULL,
    columns text[] NOT NULL DEFAULT '{}',
    status text NOT NULL CHECK (status IN ('pass', 'fail', 'error')),
    failing_rows bigint,
    sample jsonb NOT NULL DEFAULT '[]',
    message text,
    checked_at timestamptz NOT NULL,
    first_failing_at timestamptz,      -- start of the current failing streak
    last_passing_at timestamptz,
    job_id bigint,
    PRIMARY KEY (source, table_name, test_key)
);

CREATE TRIGGER source_test_changed AFTER INSERT OR UPDATE OR DELETE ON heartbeat.source_test
    FOR EACH STATEMENT EXECUTE FUNCTION heartbeat.bump_read_model();

-- Schema drift: the accepted catalogue of each declared table as its source shows it upstream (for postgres
-- sources the source database's own catalogue, since dlt lets drops and renames pass), `{column: type}`.
-- Set on first sight and by `heartbeat sources test --accept-schema`; a differing catalogue fails the
-- table's `schema` test until then.
CREATE TABLE heartbeat.source_catalog (
    source text NOT NULL,
    table_name text NOT NULL,
    columns jsonb NOT NULL,
    taken_at timestamptz NOT NULL,
    PRIMARY KEY (source, table_name)
);
