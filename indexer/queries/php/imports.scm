; PHP `use A\B\C [as D];` (module A\B, name C) and require/include of a literal path.
(namespace_use_clause (qualified_name prefix: (namespace_name) @import.module (name) @import.name) .)
(namespace_use_clause (qualified_name prefix: (namespace_name) @import.module (name) @import.name) alias: (name) @import.alias)
(namespace_use_clause . (name) @import.module .)
(namespace_use_clause . (name) @import.module alias: (name) @import.alias)
[
  (require_expression [(string (string_content) @import.module @import.name) (binary_expression right: (string (string_content) @import.module @import.name))])
  (require_once_expression [(string (string_content) @import.module @import.name) (binary_expression right: (string (string_content) @import.module @import.name))])
  (include_expression [(string (string_content) @import.module @import.name) (binary_expression right: (string (string_content) @import.module @import.name))])
  (include_once_expression [(string (string_content) @import.module @import.name) (binary_expression right: (string (string_content) @import.module @import.name))])
]
