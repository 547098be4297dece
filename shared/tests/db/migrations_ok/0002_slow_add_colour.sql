-- Slow on purpose: concurrent migrate() calls must overlap while this runs.
SELECT pg_sleep(0.3);
ALTER TABLE things ADD COLUMN colour text;
