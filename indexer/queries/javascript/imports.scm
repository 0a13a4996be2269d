; JavaScript imports (ES modules and require).
(import_statement (import_clause (named_imports (import_specifier name: (identifier) @import.name))) source: (string (string_fragment) @import.module))
(import_statement (import_clause (named_imports (import_specifier name: (identifier) @import.name alias: (identifier) @import.alias))) source: (string (string_fragment) @import.module))
(import_statement (import_clause (identifier) @import.alias) source: (string (string_fragment) @import.module))
(import_statement (import_clause (namespace_import (identifier) @import.alias)) source: (string (string_fragment) @import.module))
(variable_declarator name: (identifier) @import.alias value: (call_expression function: (identifier) @_req arguments: (arguments (string (string_fragment) @import.module))) (#eq? @_req "require"))
