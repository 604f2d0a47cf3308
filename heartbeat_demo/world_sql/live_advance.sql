-- Advance payments whose next step is due: decisions, completions, failures, ledger entries.
CREATE UNLOGGED TABLE demo_gen.due AS
SELECT p.id, p.type_id, p.state_id AS old_state, p.sender_profile_id, p.amount, p.currency, p.create_time,
       CASE WHEN p.type_id = 1 THEN demo_gen.pay_decided_at(p.id, p.create_time) END AS decided_at,
       p.type_id = 1 AND demo_gen.pay_rejected(p.id, p.create_time, p.currency) AS rejected,
       demo_gen.pay_done_at(p.id, p.create_time, p.type_id) AS done_at,
       demo_gen.pay_failed(p.id) AS failed
FROM webbank.payment p
WHERE p.state_id IN (1, 2) AND p.create_time > demo_gen.now() - interval '3 days';
ALTER TABLE demo_gen.due ADD COLUMN new_state smallint, ADD COLUMN new_at timestamptz;
UPDATE demo_gen.due SET
    new_state = CASE WHEN type_id = 1 AND decided_at > demo_gen.now() THEN 1 WHEN rejected THEN 3
                     WHEN done_at > demo_gen.now() THEN CASE WHEN type_id = 1 THEN 2 ELSE 1 END
                     WHEN failed THEN 5 ELSE 4 END,
    new_at = CASE WHEN type_id = 1 AND decided_at > demo_gen.now() THEN create_time WHEN rejected THEN decided_at
                  WHEN done_at > demo_gen.now() THEN CASE WHEN type_id = 1 THEN decided_at ELSE create_time END
                  ELSE done_at END;
DELETE FROM demo_gen.due WHERE new_state = old_state;
INSERT INTO webbank.payment_state_log
SELECT id * 4 + 1, id, CASE WHEN rejected THEN 3 ELSE 2 END, decided_at FROM demo_gen.due
WHERE type_id = 1 AND old_state = 1 AND new_state IN (2, 3, 4, 5)
UNION ALL
SELECT id * 4 + 2, id, new_state, done_at FROM demo_gen.due WHERE new_state IN (4, 5)
ON CONFLICT DO NOTHING;
UPDATE webbank.payment p SET state_id = d.new_state,
    state = (ARRAY['created', 'approved', 'rejected', 'completed', 'failed'])[d.new_state], updated_at = d.new_at
FROM demo_gen.due d WHERE d.id = p.id;
INSERT INTO webbank.entry
SELECT d.id, d.id, d.sender_profile_id, 2, round((d.amount * b.rate)::numeric, 2),
       CASE WHEN d.type_id = 1 THEN round((0.9 + least(0.003 * d.amount * b.rate, 40)
                                           + CASE WHEN d.currency <> 'EUR' THEN least(0.006 * d.amount * b.rate, 60) ELSE 0 END)::numeric, 2)
            WHEN d.type_id = 2 AND d.currency <> 'EUR' THEN round(least(0.004 * d.amount * b.rate, 30)::numeric, 2)
            ELSE 0 END,
       CASE WHEN d.type_id = 1 AND d.currency = 'EUR' THEN 'sepa_transfer' WHEN d.type_id = 1 THEN 'swift_transfer'
            WHEN d.type_id = 2 THEN 'incoming_transfer' ELSE 'internal_transfer' END,
       d.done_at, d.done_at
FROM demo_gen.due d JOIN demo_gen.base_rate b ON b.currency = d.currency
WHERE d.new_state = 4
ON CONFLICT DO NOTHING;
