-- ListCases pages newest case first, optionally by category or sector: an
-- index in that order for each, so a page is an index range, not a sort.
CREATE INDEX cases_by_category_newest ON cases (category, id DESC);
CREATE INDEX cases_by_sector_newest ON cases (sector, id DESC);
