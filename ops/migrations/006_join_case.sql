-- Grouping a complaint into a case, in the database and in one call.
--
-- The per-category advisory lock that stops two replicas opening two cases for
-- one matter is held until the commit. Done from the client, the search, the
-- shared-entity count and the case update were several round trips inside the
-- lock, and commits of every replica queued behind a replica busy with other
-- work; here the lock is taken inside the statement that inserts the analysis,
-- the last one before COMMIT.
CREATE FUNCTION pipeline_join_case(
    p_category     text,
    p_sector       text,
    p_title        text,
    p_embedding    vector(384),
    -- Entities that tie complaints to one matter (people, companies, IDs, plates).
    p_entity_types  text[],
    p_entity_values text[],
    p_threshold    double precision,
    p_entity_bonus double precision,
    p_ef_search    integer
) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    best_id    bigint;
    best_score double precision;
    v_members  integer;
    v_centroid real[];
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('cases:' || p_category));
    PERFORM set_config('hnsw.iterative_scan', 'relaxed_order', true);
    PERFORM set_config('hnsw.ef_search', p_ef_search::text, true);

    -- The nearest cases of the category; shared entities count towards them.
    SELECT near.id, near.similarity + p_entity_bonus * least(coalesce(shared.n, 0), 3)
      INTO best_id, best_score
      FROM (SELECT c.id, 1 - (c.centroid <=> p_embedding) AS similarity
              FROM cases c
             WHERE c.category = p_category
             ORDER BY c.centroid <=> p_embedding
             LIMIT 5) AS near
      LEFT JOIN LATERAL (
            SELECT count(DISTINCT (ce.type, ce.value)) AS n
              FROM analyses a
              JOIN complaint_entities ce ON ce.complaint_id = a.complaint_id
              JOIN unnest(p_entity_types, p_entity_values) AS e (t, v) ON ce.type = e.t AND ce.value = e.v
             WHERE a.case_id = near.id) AS shared ON true
     ORDER BY 2 DESC
     LIMIT 1;

    IF best_id IS NOT NULL AND best_score >= p_threshold THEN
        SELECT c.complaint_count, c.centroid::real[] INTO v_members, v_centroid
          FROM cases c WHERE c.id = best_id FOR UPDATE;
        -- The centroid stays the mean of its complaints' embeddings.
        UPDATE cases
           SET complaint_count = v_members + 1,
               centroid = (SELECT array_agg((x * v_members + y) / (v_members + 1) ORDER BY i)
                             FROM unnest(v_centroid, p_embedding::real[]) WITH ORDINALITY AS t (x, y, i))::vector,
               updated_at = now()
         WHERE id = best_id;
        RETURN best_id;
    END IF;

    INSERT INTO cases (title, category, sector, centroid, complaint_count)
    VALUES (p_title, p_category, p_sector, p_embedding, 1)
    RETURNING id INTO best_id;
    RETURN best_id;
END $$;

GRANT EXECUTE ON FUNCTION pipeline_join_case(text, text, text, vector, text[], text[], double precision,
                                             double precision, integer) TO complaints_pipeline;
