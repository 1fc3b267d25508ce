-- vmlife schema version 2: the count of failed restarts in a row (D33).
--
-- The update plan writes it when it leaves an instance meant to run failed
-- or without its VMM, and starts it again at 1 after a stable run; a
-- restart backoff reads it. Existing rows start at 0: no failure counted.

ALTER TABLE instance ADD COLUMN restart_failures INT8 NOT NULL DEFAULT 0;
ALTER TABLE instance ADD CONSTRAINT restart_failures_not_negative CHECK (restart_failures >= 0);
