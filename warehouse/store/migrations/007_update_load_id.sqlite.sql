-- A pipeline load is registered with its entry once, found by its load id (not by note text).
ALTER TABLE entry_updates ADD COLUMN load_id TEXT;
UPDATE entry_updates
   SET load_id = substr(note, instr(note, ' load ') + 6,
                        instr(note, ': ') - instr(note, ' load ') - 6)
 WHERE source = 'pipeline' AND note LIKE '% load %: % rows';
CREATE UNIQUE INDEX entry_updates_load ON entry_updates(load_id) WHERE load_id IS NOT NULL;
