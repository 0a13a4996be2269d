; Lua definitions and references (Hearth's own query; standard tags capture names).
; `function M.f()` defines f and `function M:f()` defines the method f (the table is not a scope).
(function_declaration name: (identifier) @name.definition.function) @definition.function
(function_declaration name: (dot_index_expression field: (identifier) @name.definition.function)) @definition.function
(function_declaration name: (method_index_expression method: (identifier) @name.definition.method)) @definition.method
(assignment_statement (variable_list name: (dot_index_expression field: (identifier) @name.definition.function))
  (expression_list value: (function_definition))) @definition.function
; File-level locals (a `require` is an import, not a definition): UPPER_CASE names are constants.
((chunk (variable_declaration (assignment_statement (variable_list . name: (identifier) @name.definition.constant))) @definition.constant)
  (#match? @name.definition.constant "^[A-Z][A-Z0-9_]*$"))
((chunk (variable_declaration (assignment_statement (variable_list . name: (identifier) @name.definition.variable))) @definition.variable)
  (#not-match? @name.definition.variable "^[A-Z][A-Z0-9_]*$")
  (#not-match? @definition.variable "=\\s*require\\b"))
(function_call name: (identifier) @name.reference.call)
(function_call name: (dot_index_expression field: (identifier) @name.reference.call))
(function_call name: (method_index_expression method: (identifier) @name.reference.call))
