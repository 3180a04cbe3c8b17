-- Fitted analysis (pipeline_service/analyzer/): each answer carries its
-- calibrated confidence, and a complaint the model is unsure of is marked for
-- an officer's review (ListComplaints filters on it; the dashboard counts it).
ALTER TABLE analyses
    ADD COLUMN category_confidence real NOT NULL DEFAULT 1,
    ADD COLUMN sector_confidence   real NOT NULL DEFAULT 1,
    ADD COLUMN needs_review        boolean NOT NULL DEFAULT false;
-- Few complaints are marked: the filter reads them from this small index.
CREATE INDEX analyses_needs_review ON analyses (complaint_id) WHERE needs_review;

-- Normalised evidence that ties two reports of one incident together
-- (pipeline_service/analyzer/grouping.py): "RM5k" and "lima ribu ringgit" are
-- one AMOUNT key, "Insp. Rahim" and "Inspektor Abdul Rahim" share a NAME key.
-- The pipeline's own table: analytics shows entities, never these keys.
CREATE TABLE complaint_keys (
    complaint_id uuid NOT NULL REFERENCES complaints (id) ON DELETE CASCADE,
    kind         text NOT NULL,
    key          text NOT NULL,
    PRIMARY KEY (complaint_id, kind, key)
);
-- Candidates that share a key, whatever their embedding says.
CREATE INDEX complaint_keys_lookup ON complaint_keys (kind, key);
GRANT SELECT, INSERT, UPDATE, DELETE ON complaint_keys TO complaints_pipeline;

-- Grouping now searches candidates across every category (a wrong category
-- must not split a case) and scores each pair in Python with the fitted
-- weights, under one lock (pipeline_service/store.py). What stays in the
-- database is the case update itself: join `p_case_id`, or open a new case.
DROP FUNCTION pipeline_join_case(text, text, text, vector, text[], text[], double precision,
                                 double precision, integer);
CREATE FUNCTION pipeline_join_case(
    p_case_id   bigint,
    p_category  text,
    p_sector    text,
    p_title     text,
    p_embedding vector(384)
) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_members  integer;
    v_centroid real[];
BEGIN
    IF p_case_id IS NOT NULL THEN
        SELECT c.complaint_count, c.centroid::real[] INTO v_members, v_centroid
          FROM cases c WHERE c.id = p_case_id FOR UPDATE;
        IF FOUND THEN
            -- The centroid stays the mean of its complaints' embeddings.
            UPDATE cases
               SET complaint_count = v_members + 1,
                   centroid = (SELECT array_agg((x * v_members + y) / (v_members + 1) ORDER BY i)
                                 FROM unnest(v_centroid, p_embedding::real[]) WITH ORDINALITY AS t (x, y, i))::vector,
                   updated_at = now()
             WHERE id = p_case_id;
            RETURN p_case_id;
        END IF;
    END IF;
    INSERT INTO cases (title, category, sector, centroid, complaint_count)
    VALUES (p_title, p_category, p_sector, p_embedding, 1)
    RETURNING id INTO p_case_id;
    RETURN p_case_id;
END $$;
GRANT EXECUTE ON FUNCTION pipeline_join_case(bigint, text, text, text, vector) TO complaints_pipeline;
