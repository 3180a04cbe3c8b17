-- Pre-computed dashboard figures as sharded counters: each connection adds
-- its deltas to its own shard row (backend pid mod 16), so no single hot row
-- is locked by every commit of every replica. Readers sum the shards.
CREATE TABLE analytics_counts (
    dimension text NOT NULL,  -- status, received_day, processing, category, sector, pattern, entity
    key       text NOT NULL,
    shard     smallint NOT NULL,
    value     double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (dimension, key, shard)
);

-- Adds deltas; rows are locked in key order so concurrent bumps cannot deadlock.
CREATE FUNCTION analytics_bump(dims text[], keys text[], deltas double precision[])
RETURNS void LANGUAGE sql AS $$
    INSERT INTO analytics_counts AS c (dimension, key, shard, value)
    SELECT d, k, (pg_backend_pid() % 16)::smallint, sum(v)
      FROM unnest(dims, keys, deltas) AS t (d, k, v)
     GROUP BY d, k
     ORDER BY d, k
    ON CONFLICT (dimension, key, shard) DO UPDATE SET value = c.value + EXCLUDED.value;
    SELECT pg_notify('analytics', '');
$$;

-- Status totals, arrivals per day and processing time follow every change of
-- complaints.status, whichever service makes it.
CREATE FUNCTION complaints_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM analytics_bump(array_agg(d), array_agg(k), array_agg(v))
       FROM (SELECT 'status' AS d, status AS k, 1::float8 AS v FROM new_rows
             UNION ALL
             SELECT 'received_day', to_char(received_at AT TIME ZONE 'Asia/Kuala_Lumpur', 'YYYY-MM-DD'), 1
               FROM new_rows) t
     HAVING count(*) > 0;
    RETURN NULL;
END $$;

CREATE FUNCTION complaints_count_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM analytics_bump(array_agg(d), array_agg(k), array_agg(v))
       FROM (SELECT 'status' AS d, o.status AS k, -1::float8 AS v
               FROM old_rows o JOIN new_rows n USING (id) WHERE o.status <> n.status
             UNION ALL
             SELECT 'status', n.status, 1
               FROM old_rows o JOIN new_rows n USING (id) WHERE o.status <> n.status
             UNION ALL
             SELECT 'processing', x.k, x.v
               FROM old_rows o JOIN new_rows n USING (id)
              CROSS JOIN LATERAL (VALUES
                    ('count', 1::float8),
                    ('seconds', extract(epoch FROM n.processed_at - n.received_at)::float8)) AS x (k, v)
              WHERE n.status = 'PROCESSED' AND o.status <> 'PROCESSED'
             UNION ALL
             SELECT 'processing', x.k, x.v
               FROM old_rows o JOIN new_rows n USING (id)
              CROSS JOIN LATERAL (VALUES
                    ('count', -1::float8),
                    ('seconds', -extract(epoch FROM o.processed_at - o.received_at)::float8)) AS x (k, v)
              WHERE o.status = 'PROCESSED' AND n.status <> 'PROCESSED') t
     HAVING count(*) > 0;
    RETURN NULL;
END $$;

CREATE TRIGGER complaints_counted_insert AFTER INSERT ON complaints
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION complaints_count_insert();

CREATE TRIGGER complaints_counted_update AFTER UPDATE ON complaints
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION complaints_count_update();
