-- Per-client API keys for all three services. Only the sha256 of a key is
-- kept (keys are 256 random bits, so a plain hash cannot be reversed); the
-- key itself is shown once, when it is created (python -m ops.keys).
CREATE TABLE api_keys (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    key_sha256 bytea NOT NULL UNIQUE,
    -- submit: IntakeService submissions and status; read: dashboard and
    -- status reads; admin: everything; dispatch: intake's own key for
    -- PipelineService.Dispatch.
    roles      text[] NOT NULL CHECK (roles <@ ARRAY['submit', 'read', 'admin', 'dispatch'] AND cardinality(roles) > 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

-- Every service authenticates its callers; none may change a key.
GRANT SELECT ON api_keys TO complaints_intake, complaints_pipeline, complaints_analytics;
