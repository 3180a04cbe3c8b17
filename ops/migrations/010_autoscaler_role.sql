-- A login role for the autoscaler (KEDA's PostgreSQL scaler) to read the
-- queue depth: it may read the counters and nothing else, and its own small
-- CONNECTION LIMIT keeps its polling out of every service's budget.
-- Its password is set outside migrations (python -m ops.roles).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'complaints_autoscaler') THEN
        CREATE ROLE complaints_autoscaler LOGIN CONNECTION LIMIT 2;
    END IF;
END $$;

GRANT USAGE ON SCHEMA public TO complaints_autoscaler;
GRANT SELECT ON analytics_counts TO complaints_autoscaler;
