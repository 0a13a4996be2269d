; C# definitions and references (Hearth's own query; standard tags capture names).
(class_declaration name: (identifier) @name.definition.class) @definition.class
(record_declaration name: (identifier) @name.definition.class) @definition.class
(struct_declaration name: (identifier) @name.definition.struct) @definition.struct
(interface_declaration name: (identifier) @name.definition.interface) @definition.interface
(enum_declaration name: (identifier) @name.definition.enum) @definition.enum
(enum_member_declaration name: (identifier) @name.definition.constant) @definition.constant
(delegate_declaration name: (identifier) @name.definition.type) @definition.type
(namespace_declaration name: [(identifier) (qualified_name)] @name.definition.namespace) @definition.namespace
(file_scoped_namespace_declaration name: [(identifier) (qualified_name)] @name.definition.namespace) @definition.namespace
(method_declaration name: (identifier) @name.definition.method) @definition.method
(constructor_declaration name: (identifier) @name.definition.method) @definition.method
(destructor_declaration name: (identifier) @name.definition.method) @definition.method
(local_function_statement name: (identifier) @name.definition.function) @definition.function
(property_declaration name: (identifier) @name.definition.property) @definition.property
(event_declaration name: (identifier) @name.definition.property) @definition.property
; const fields are constants; other fields are fields.
(field_declaration (modifier "const") (variable_declaration (variable_declarator name: (identifier) @name.definition.constant))) @definition.constant
((field_declaration (variable_declaration (variable_declarator name: (identifier) @name.definition.field))) @definition.field
  (#not-match? @definition.field "^[^=]*\\bconst\\b"))
(invocation_expression function: (identifier) @name.reference.call)
(invocation_expression function: (member_access_expression name: (identifier) @name.reference.call))
(invocation_expression function: (generic_name (identifier) @name.reference.call))
(object_creation_expression type: (identifier) @name.reference.class)
(object_creation_expression type: (generic_name (identifier) @name.reference.class))
(base_list (identifier) @name.reference.class)
(parameter type: (identifier) @name.reference.type)
