-- No query has searched cases by centroid since grouping compares complaints
-- (011_review_and_grouping.sql: the candidates are the nearest complaints by
-- analyses.embedding), but every case join still moved the case's entry in
-- this HNSW graph: an insert that walks the graph of every case, under the
-- grouping lock. With 100,000 stored complaints (5,000 cases) it was 3.0 ms
-- and 2,800 buffer reads of a join's 3.3 ms (0.25 ms and 22 without it),
-- growing with the number of cases (make bench-scale, bench/scale.md).
DROP INDEX cases_centroid;
