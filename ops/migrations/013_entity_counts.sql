-- Entity counts kept compacted, so that neither the dashboard's reload nor
-- GetCase reads more rows as complaints are stored.
--
-- The dashboard's top entities were summed from 16 shard rows per entity in
-- analytics_counts, over every entity ever seen, to keep 20. Now each entity's
-- total is one row in entity_counts and the top ones are the first entries of
-- its index. GetCase counted the entities its complaints share by joining every
-- complaint of the case; case_entities keeps those counts per case.
--
-- Both tables are written by pipeline_count_entities, the pipeline commit's
-- last statement, under the grouping lock (pipeline_service/store.py): commits
-- pass that lock one at a time, so an entity many complaints name is not a hot
-- row, and no transaction holds one of these rows while it waits for the lock.
-- A count is the number of complaints with that entity (complaint_entities
-- rows); a count that falls to 0 leaves its row.
CREATE TABLE entity_counts (
    key        text PRIMARY KEY,  -- type|value (complaints/constants.py pair_key), as the dashboard names it
    complaints bigint NOT NULL
);
CREATE INDEX entity_counts_top ON entity_counts (complaints DESC, key);

CREATE TABLE case_entities (
    case_id    bigint NOT NULL,
    type       text NOT NULL,
    value      text NOT NULL,
    complaints integer NOT NULL,
    PRIMARY KEY (case_id, type, value)
);
-- A case's shared entities (named by more than one of its complaints), most first.
CREATE INDEX case_entities_shared ON case_entities (case_id, complaints DESC, type, value) WHERE complaints > 1;

-- A commit's change: a reprocessed complaint's earlier entities leave its
-- earlier case, its entities join its case. Rows are changed in key order.
CREATE FUNCTION pipeline_count_entities(
    p_old_case   bigint,
    p_old_types  text[],
    p_old_values text[],
    p_new_case   bigint,
    p_new_types  text[],
    p_new_values text[]
) RETURNS void LANGUAGE sql AS $$
    INSERT INTO entity_counts AS e (key, complaints)
    SELECT t || '|' || v, sum(d) FROM (
        SELECT DISTINCT t, v, -1 AS d FROM unnest(p_old_types, p_old_values) AS o (t, v)
        UNION ALL
        SELECT DISTINCT t, v, 1 FROM unnest(p_new_types, p_new_values) AS n (t, v)) x
     GROUP BY 1 HAVING sum(d) <> 0 ORDER BY 1
    ON CONFLICT (key) DO UPDATE SET complaints = e.complaints + EXCLUDED.complaints;
    DELETE FROM entity_counts
     WHERE complaints = 0 AND key IN (SELECT t || '|' || v FROM unnest(p_old_types, p_old_values) AS o (t, v));

    INSERT INTO case_entities AS e (case_id, type, value, complaints)
    SELECT c, t, v, sum(d) FROM (
        SELECT DISTINCT p_old_case AS c, t, v, -1 AS d FROM unnest(p_old_types, p_old_values) AS o (t, v)
         WHERE p_old_case IS NOT NULL
        UNION ALL
        SELECT DISTINCT p_new_case, t, v, 1 FROM unnest(p_new_types, p_new_values) AS n (t, v)
         WHERE p_new_case IS NOT NULL) x
     GROUP BY 1, 2, 3 HAVING sum(d) <> 0 ORDER BY 1, 2, 3
    ON CONFLICT (case_id, type, value) DO UPDATE SET complaints = e.complaints + EXCLUDED.complaints;
    DELETE FROM case_entities
     WHERE case_id = p_old_case AND complaints = 0
       AND (type, value) IN (SELECT t, v FROM unnest(p_old_types, p_old_values) AS o (t, v));
$$;

-- The counts as the rows stand (the pipeline's per-connection entity shards go).
INSERT INTO entity_counts (key, complaints)
SELECT type || '|' || value, count(*) FROM complaint_entities GROUP BY 1;
INSERT INTO case_entities (case_id, type, value, complaints)
SELECT a.case_id, ce.type, ce.value, count(*)
  FROM analyses a JOIN complaint_entities ce ON ce.complaint_id = a.complaint_id
 WHERE a.case_id IS NOT NULL
 GROUP BY 1, 2, 3;
DELETE FROM analytics_counts WHERE dimension = 'entity';

GRANT SELECT, INSERT, UPDATE, DELETE ON entity_counts, case_entities TO complaints_pipeline;
GRANT EXECUTE ON FUNCTION pipeline_count_entities(bigint, text[], text[], bigint, text[], text[])
    TO complaints_pipeline;
GRANT SELECT ON entity_counts, case_entities TO complaints_analytics;
