-- Source-side keys and the indexes the cursors (updated_at) and the helpdesk API need: the other half.
ALTER TABLE webbank.payment_state ADD PRIMARY KEY (id);
ALTER TABLE webbank.client_profile ADD PRIMARY KEY (id);
ALTER TABLE webbank.client_profile_state_log ADD PRIMARY KEY (id);
ALTER TABLE webbank.payment ADD PRIMARY KEY (id);
ALTER TABLE webbank.entry ADD PRIMARY KEY (id);
ALTER TABLE aml.aml_retrospective ADD PRIMARY KEY (id);
ALTER TABLE card_management.card ADD PRIMARY KEY (id);
ALTER TABLE card_management.collateral_invoice ADD PRIMARY KEY (id);
ALTER TABLE helpdesk.ticket ADD PRIMARY KEY (id);
CREATE INDEX ON webbank.client_profile (updated_at);
CREATE INDEX ON webbank.payment (updated_at);
CREATE INDEX ON aml.aml_retrospective (updated_at);
CREATE INDEX ON card_management.card (updated_at);
CREATE INDEX ON card_management.collateral_invoice (updated_at);
CREATE INDEX ON helpdesk.ticket (updated_at, id);
