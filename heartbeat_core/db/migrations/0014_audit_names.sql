-- An audit cut that shows people's or entities' names (clients, reviewers) says so in its META (`names`):
-- a display key sees it without them unless HEARTBEAT_DISPLAY_DETAIL is true (the trusted-screen issue).
ALTER TABLE heartbeat.audit_cut_registry ADD COLUMN names boolean NOT NULL DEFAULT false;
