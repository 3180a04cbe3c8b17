-- WatchComplaint pushes changes: every change of a complaint's status,
-- stage, attempts or error NOTIFYs its ID on 'complaint_status', which
-- intake LISTENs on with one connection per process.
CREATE FUNCTION complaints_notify_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('complaint_status', NEW.id::text);
    RETURN NULL;
END $$;

CREATE TRIGGER complaints_status_notify AFTER UPDATE OF status, stage, attempts, last_error ON complaints
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.stage IS DISTINCT FROM NEW.stage
          OR OLD.attempts IS DISTINCT FROM NEW.attempts OR OLD.last_error IS DISTINCT FROM NEW.last_error)
    EXECUTE FUNCTION complaints_notify_status();
