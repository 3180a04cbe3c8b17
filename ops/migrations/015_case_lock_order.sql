-- One lock order for every transaction that changes a case: the grouping lock
-- first, then the case's row. A reprocessed complaint used to leave its case
-- (locking the case's row) before its commit took the grouping lock, while a
-- commit joining that case held the grouping lock and waited for the row:
-- PostgreSQL broke the deadlock by failing one of the two commits
-- (tests/pipeline/test_store.py). Both case functions now take the lock
-- themselves, so no caller can lock a case's row before it; the key is the
-- one replicas already took, so replicas of either version exclude each other.
CREATE FUNCTION pipeline_grouping_lock() RETURNS void LANGUAGE sql AS $$
    SELECT pg_advisory_xact_lock(hashtext('cases'))
$$;
GRANT EXECUTE ON FUNCTION pipeline_grouping_lock() TO complaints_pipeline;

-- As in 011, after the grouping lock.
CREATE OR REPLACE FUNCTION pipeline_join_case(
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
    PERFORM pipeline_grouping_lock();
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

-- As in 012, after the grouping lock.
CREATE OR REPLACE FUNCTION pipeline_leave_case(
    p_case_id   bigint,
    p_embedding vector(384)
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_members  integer;
    v_centroid real[];
BEGIN
    PERFORM pipeline_grouping_lock();
    SELECT c.complaint_count, c.centroid::real[] INTO v_members, v_centroid
      FROM cases c WHERE c.id = p_case_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    -- The centroid stays the mean of the complaints left in the case; the last
    -- one to leave leaves it as it was (an empty case is not listed).
    UPDATE cases
       SET complaint_count = greatest(v_members - 1, 0),
           centroid = CASE WHEN v_members > 1 THEN
                          (SELECT array_agg((x * v_members - y) / (v_members - 1) ORDER BY i)
                             FROM unnest(v_centroid, p_embedding::real[]) WITH ORDINALITY AS t (x, y, i))::vector
                      ELSE centroid END,
           updated_at = now()
     WHERE id = p_case_id;
END $$;
