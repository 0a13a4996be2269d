; Java definitions and references (Hearth's own query; standard tags capture names).
(class_declaration name: (identifier) @name.definition.class) @definition.class
(record_declaration name: (identifier) @name.definition.class) @definition.class
(interface_declaration name: (identifier) @name.definition.interface) @definition.interface
(annotation_type_declaration name: (identifier) @name.definition.interface) @definition.interface
(enum_declaration name: (identifier) @name.definition.enum) @definition.enum
(method_declaration name: (identifier) @name.definition.method) @definition.method
(constructor_declaration name: (identifier) @name.definition.method) @definition.method
(compact_constructor_declaration name: (identifier) @name.definition.method) @definition.method
; static final fields are constants; other fields are fields.
(field_declaration (modifiers "static" "final") declarator: (variable_declarator name: (identifier) @name.definition.constant)) @definition.constant
(field_declaration (modifiers) @_mods declarator: (variable_declarator name: (identifier) @name.definition.field) (#not-match? @_mods "static[^;]*final|final[^;]*static")) @definition.field
(interface_body (constant_declaration declarator: (variable_declarator name: (identifier) @name.definition.constant)) @definition.constant)
(method_invocation name: (identifier) @name.reference.call)
(object_creation_expression type: (type_identifier) @name.reference.class)
(object_creation_expression type: (generic_type (type_identifier) @name.reference.class))
(superclass (type_identifier) @name.reference.class)
(super_interfaces (type_list (type_identifier) @name.reference.type))
(formal_parameter type: (type_identifier) @name.reference.type)
