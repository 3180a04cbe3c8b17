-- One login role per service, so each has its own connection budget and only
-- the rights it needs. Passwords are set outside migrations (deploy/).
DO $$
DECLARE r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['complaints_intake', 'complaints_pipeline', 'complaints_analytics'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I LOGIN', r);
        END IF;
    END LOOP;
END $$;

GRANT USAGE ON SCHEMA public TO complaints_intake, complaints_pipeline, complaints_analytics;

-- Intake stores complaints and reads their status.
GRANT SELECT, INSERT ON complaints, complainants, documents TO complaints_intake;
GRANT USAGE ON SEQUENCE documents_id_seq TO complaints_intake;
GRANT SELECT, INSERT, UPDATE ON analytics_counts TO complaints_intake;

-- The pipeline claims, analyses and commits. It reads the complainant only to
-- mask their identity in the text it analyses.
GRANT SELECT, UPDATE ON complaints TO complaints_pipeline;
GRANT SELECT ON complainants TO complaints_pipeline;
GRANT SELECT, UPDATE ON documents TO complaints_pipeline;
GRANT SELECT, INSERT, UPDATE, DELETE ON analyses, cases, complaint_entities, analytics_counts TO complaints_pipeline;
GRANT USAGE ON SEQUENCE lease_tokens, cases_id_seq TO complaints_pipeline;

-- Analytics reads what it serves and nothing of the complainant: no grant on
-- complainants, and on complaints and documents only these columns (the raw
-- subject and description may name the complainant; analyses holds them masked).
GRANT SELECT (id, source_system, channel, incident_date, location, status, stage, attempts,
              last_error, received_at, started_at, processed_at, updated_at)
    ON complaints TO complaints_analytics;
GRANT SELECT (id, complaint_id, ordinal, filename, detected_type, size_bytes, sha256,
              extraction_status, extraction_error)
    ON documents TO complaints_analytics;
GRANT SELECT ON analyses, cases, complaint_entities, analytics_counts TO complaints_analytics;
