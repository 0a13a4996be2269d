; JSON top-level keys (Hearth's own query): each pair of the top-level object is a definition of
; kind "key", named by the key without quotes, so a JSON file is chunked by its top-level keys.
(document (object (pair key: (string (string_content) @name.definition.key)) @definition.key))
