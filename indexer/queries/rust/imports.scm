; Rust use declarations: the whole use tree; names are split out by the indexer.
(use_declaration argument: (_) @import.module)
