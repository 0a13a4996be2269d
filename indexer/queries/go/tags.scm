; Go definitions and references (standard tags capture names).
(function_declaration name: (identifier) @name.definition.function) @definition.function
(method_declaration name: (field_identifier) @name.definition.method) @definition.method
(type_declaration (type_spec name: (type_identifier) @name.definition.type)) @definition.type
(source_file (const_declaration (const_spec name: (identifier) @name.definition.constant)) @definition.constant)
(source_file (var_declaration (var_spec name: (identifier) @name.definition.variable)) @definition.variable)
(call_expression function: (identifier) @name.reference.call)
(call_expression function: (selector_expression field: (field_identifier) @name.reference.call))
(composite_literal type: (type_identifier) @name.reference.type)
