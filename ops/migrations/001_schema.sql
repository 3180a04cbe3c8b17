-- Complaints, their documents, analyses and cases.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE complaints (
    id               uuid PRIMARY KEY,
    source_system    text NOT NULL,
    idempotency_key  text NOT NULL,
    -- sha256 of the request as received: a repeated key with other content is refused.
    request_sha256   bytea NOT NULL,
    channel          text NOT NULL DEFAULT '',
    subject          text NOT NULL DEFAULT '',
    description      text NOT NULL,
    incident_date    date,
    location         text NOT NULL DEFAULT '',
    status           text NOT NULL DEFAULT 'QUEUED'
                     CHECK (status IN ('QUEUED', 'PROCESSING', 'PROCESSED', 'FAILED')),
    stage            text NOT NULL DEFAULT 'queued',
    attempts         integer NOT NULL DEFAULT 0,
    last_error       text NOT NULL DEFAULT '',
    lease_owner      text,
    -- Fencing token: a new claim takes a new token, so a replica whose lease
    -- was taken over cannot commit.
    lease_token      bigint,
    lease_expires_at timestamptz,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    received_at      timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    processed_at     timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source_system, idempotency_key)
);
CREATE INDEX complaints_claimable ON complaints (next_attempt_at) WHERE status = 'QUEUED';
CREATE INDEX complaints_leased ON complaints (lease_expires_at) WHERE status = 'PROCESSING';
CREATE INDEX complaints_received ON complaints (received_at DESC, id DESC);
CREATE INDEX complaints_status_received ON complaints (status, received_at DESC, id DESC);
CREATE SEQUENCE lease_tokens;

-- The complainant's identity, apart from everything analytics may read.
CREATE TABLE complainants (
    complaint_id uuid PRIMARY KEY REFERENCES complaints (id) ON DELETE CASCADE,
    name         text NOT NULL DEFAULT '',
    id_number    text NOT NULL DEFAULT '',
    phone        text NOT NULL DEFAULT '',
    email        text NOT NULL DEFAULT '',
    anonymous    boolean NOT NULL DEFAULT false
);

CREATE TABLE documents (
    id                bigserial PRIMARY KEY,
    complaint_id      uuid NOT NULL REFERENCES complaints (id) ON DELETE CASCADE,
    ordinal           integer NOT NULL,
    filename          text NOT NULL,
    declared_type     text NOT NULL DEFAULT '',
    detected_type     text NOT NULL,
    size_bytes        bigint NOT NULL,
    sha256            text NOT NULL,
    content           bytea NOT NULL,
    -- pending, extracted, not_extracted (no extractor available), error
    extraction_status text NOT NULL DEFAULT 'pending',
    extraction_error  text NOT NULL DEFAULT '',
    extracted_text    text NOT NULL DEFAULT '',
    UNIQUE (complaint_id, ordinal)
);

CREATE TABLE cases (
    id              bigserial PRIMARY KEY,
    title           text NOT NULL,
    category        text NOT NULL,
    sector          text NOT NULL,
    centroid        vector(384) NOT NULL,
    complaint_count integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cases_centroid ON cases USING hnsw (centroid vector_cosine_ops);
CREATE INDEX cases_by_size ON cases (complaint_count DESC, id DESC);
CREATE INDEX cases_by_category ON cases (category, complaint_count DESC, id DESC);

CREATE TABLE analyses (
    complaint_id uuid PRIMARY KEY REFERENCES complaints (id) ON DELETE CASCADE,
    -- Subject and description with the complainant's own identity masked:
    -- what analytics may show.
    subject      text NOT NULL,
    description  text NOT NULL,
    category     text NOT NULL,
    sector       text NOT NULL,
    acts         text[] NOT NULL,
    summary      text NOT NULL,
    entities     jsonb NOT NULL DEFAULT '[]',
    embedding    vector(384) NOT NULL,
    case_id      bigint REFERENCES cases (id),
    analyzer     text NOT NULL,
    analysed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX analyses_embedding ON analyses USING hnsw (embedding vector_cosine_ops);
CREATE INDEX analyses_case ON analyses (case_id);
CREATE INDEX analyses_category ON analyses (category);
CREATE INDEX analyses_sector ON analyses (sector);

-- Entities per complaint, for grouping by shared entities.
CREATE TABLE complaint_entities (
    complaint_id uuid NOT NULL REFERENCES complaints (id) ON DELETE CASCADE,
    type         text NOT NULL,
    value        text NOT NULL,
    PRIMARY KEY (complaint_id, type, value)
);
CREATE INDEX complaint_entities_value ON complaint_entities (type, value);
