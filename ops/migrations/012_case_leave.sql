-- A complaint analysed again (Reprocess) first leaves its case: the case's
-- count and centroid give its embedding back. With pipeline_join_case (011)
-- all of a case's centroid arithmetic is here, in the database;
-- pipeline_service/store.py only calls the two functions.
CREATE FUNCTION pipeline_leave_case(
    p_case_id   bigint,
    p_embedding vector(384)
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_members  integer;
    v_centroid real[];
BEGIN
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
GRANT EXECUTE ON FUNCTION pipeline_leave_case(bigint, vector) TO complaints_pipeline;
