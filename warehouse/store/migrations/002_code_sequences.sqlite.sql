-- The highest 顺序码 used under each 分类码, so that writers in different processes allocate
-- new 信息资源代码 inside their write transaction without scanning entries.
CREATE TABLE code_sequences (
    classification TEXT PRIMARY KEY,
    last           INTEGER NOT NULL
);
INSERT INTO code_sequences (classification, last)
SELECT classification, max(CAST(substr(code, instr(code, '/') + 1) AS INTEGER))
FROM entries GROUP BY classification;
