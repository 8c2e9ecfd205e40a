-- Issue 11, atomic reviews: a review that publishes is first recorded 'pending' (an intent,
-- with the run and so the load id), then the held rows are committed to the lake (exactly once
-- by load id), then one transaction makes the review 'done', decides the run, records the load
-- published and registers it. A 'pending' review left by a dead process is settled by the next
-- command: completed when the lake holds the load's commit, else removed. Readers see 'done'
-- reviews only.
ALTER TABLE quality_reviews ADD COLUMN state TEXT NOT NULL DEFAULT 'done'
    CHECK (state IN ('pending', 'done'));

-- Issue 11, relocatable workspace: paths in the workspace are kept relative to it (the store
-- resolves them against the workspace it opened), so a copied or moved workspace works on its
-- own files. Paths written before were absolute; each lies at a known place of the layout
-- (warehouse/workspace.py), whatever the root was, so it is cut to that place. The last path
-- component is replace(p, rtrim(p, replace(p, '/', '')), '').
UPDATE loads
SET held_path = 'held/' || dataset || '/'
    || replace(held_path, rtrim(held_path, replace(held_path, '/', '')), '')
WHERE held_path LIKE '/%';

UPDATE loads SET location = 'lake/main/' || dataset WHERE location LIKE '/%';

UPDATE loads
SET sources = (
    SELECT json_group_array(
        CASE
            WHEN json_extract(s.value, '$.landed_path') LIKE '/%' THEN json_set(
                s.value, '$.landed_path', 'landing/' || loads.dataset || '/' || replace(
                    json_extract(s.value, '$.landed_path'),
                    rtrim(
                        json_extract(s.value, '$.landed_path'),
                        replace(json_extract(s.value, '$.landed_path'), '/', '')
                    ),
                    ''
                )
            )
            ELSE json(s.value)
        END
    )
    FROM json_each(loads.sources) AS s
)
WHERE sources LIKE '%"landed_path": "/%';

UPDATE quality_runs
SET quarantine_path = 'quarantine/' || dataset || '/'
    || replace(quarantine_path, rtrim(quarantine_path, replace(quarantine_path, '/', '')), '')
WHERE quarantine_path LIKE '/%';

UPDATE quality_runs
SET data_docs = substr(data_docs, instr(data_docs, '/quality/docs/validations/') + 1)
WHERE data_docs LIKE '/%' AND instr(data_docs, '/quality/docs/validations/') > 0;

UPDATE imports
SET rejects_file = 'rejects/'
    || replace(rejects_file, rtrim(rejects_file, replace(rejects_file, '/', '')), '')
WHERE rejects_file LIKE '/%';
