; Go imports: the package path, and its local name when aliased.
(import_spec path: (interpreted_string_literal) @import.module)
(import_spec name: (package_identifier) @import.alias path: (interpreted_string_literal) @import.module)
