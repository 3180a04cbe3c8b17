-- A case join scores the new complaint against the earliest members of each
-- case it may join (pipeline_service/store.py _MEMBERS: ORDER BY analysed_at,
-- complaint_id LIMIT 50). With the index on case_id alone that read and
-- sorted every member of a large case under the grouping lock; this one reads
-- the 50 in order, and serves every lookup by case_id, so it replaces it.
CREATE INDEX analyses_case_members ON analyses (case_id, analysed_at, complaint_id);
DROP INDEX analyses_case;
