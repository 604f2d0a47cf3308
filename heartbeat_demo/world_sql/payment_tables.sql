CREATE UNLOGGED TABLE webbank.payment (
    id bigint NOT NULL, sender_profile_id bigint NOT NULL, type_id smallint NOT NULL, direction text NOT NULL,
    amount numeric(14, 2) NOT NULL, currency text NOT NULL, state_id smallint NOT NULL, state text NOT NULL,
    reference text, create_time timestamptz NOT NULL, updated_at timestamptz NOT NULL);
CREATE UNLOGGED TABLE webbank.payment_state_log (
    id bigint NOT NULL, payment_id bigint NOT NULL, state_id smallint NOT NULL, "timestamp" timestamptz NOT NULL);
CREATE UNLOGGED TABLE webbank.entry (
    id bigint NOT NULL, payment_id bigint, client_profile_id bigint NOT NULL, entry_state_id smallint NOT NULL,
    amount numeric(14, 2) NOT NULL, fee numeric(12, 2) NOT NULL, product text NOT NULL,
    create_time timestamptz NOT NULL, updated_at timestamptz NOT NULL);
