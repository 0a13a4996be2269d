-- References as one row per name and kind in each blob, with the lines and columns of all their occurrences
-- (ascending; `line`, `col` and `end_line` are the first one's). A file names what it uses about four times
-- over, so this keeps about a quarter of the reference rows: fewer index entries and less to write when
-- indexing. Definitions and imports leave both columns NULL, and so do reference rows written before this
-- migration (one per occurrence): readers take coalesce(lines, ARRAY[line]).
ALTER TABLE symbols ADD COLUMN IF NOT EXISTS lines int[];
ALTER TABLE symbols ADD COLUMN IF NOT EXISTS cols int[];
