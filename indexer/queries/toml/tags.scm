; TOML tables and top-level keys (Hearth's own query): `[table]` and `[[array.of.tables]]` are
; definitions of kind "section" named by their (dotted) key; top-level pairs are of kind "key".
(table . [(bare_key) (dotted_key) (quoted_key)] @name.definition.section) @definition.section
(table_array_element . [(bare_key) (dotted_key) (quoted_key)] @name.definition.section) @definition.section
(document (pair . [(bare_key) (dotted_key) (quoted_key)] @name.definition.key) @definition.key)
