; YAML top-level keys (Hearth's own query): each pair of a document's top-level mapping is a
; definition of kind "key", so a YAML file is chunked by its top-level keys.
(document (block_node (block_mapping (block_mapping_pair
  key: (flow_node [(plain_scalar) (double_quote_scalar) (single_quote_scalar)] @name.definition.key)) @definition.key)))
