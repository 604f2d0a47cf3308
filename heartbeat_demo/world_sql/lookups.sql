CREATE UNLOGGED TABLE webbank.payment_state (id smallint NOT NULL, code text NOT NULL, is_final boolean NOT NULL);
INSERT INTO webbank.payment_state VALUES
    (1, 'created', false), (2, 'approved', false), (3, 'rejected', true), (4, 'completed', true), (5, 'failed', true);
