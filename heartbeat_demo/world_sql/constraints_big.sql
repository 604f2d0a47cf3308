-- Source-side keys and the indexes the cursors (updated_at) need: the half on the big tables.
ALTER TABLE webbank.payment_state_log ADD PRIMARY KEY (id);
CREATE INDEX ON webbank.entry (updated_at);
