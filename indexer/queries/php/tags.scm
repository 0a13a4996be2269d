; PHP definitions and references (Hearth's own query; standard tags capture names).
(namespace_definition name: (namespace_name) @name.definition.namespace) @definition.namespace
(class_declaration name: (name) @name.definition.class) @definition.class
(interface_declaration name: (name) @name.definition.interface) @definition.interface
(trait_declaration name: (name) @name.definition.trait) @definition.trait
(enum_declaration name: (name) @name.definition.enum) @definition.enum
(enum_case name: (name) @name.definition.constant) @definition.constant
(function_definition name: (name) @name.definition.function) @definition.function
(method_declaration name: (name) @name.definition.method) @definition.method
(const_declaration (const_element (name) @name.definition.constant)) @definition.constant
(property_declaration (property_element name: (variable_name (name) @name.definition.field))) @definition.field
(function_call_expression function: (name) @name.reference.call)
(function_call_expression function: (qualified_name (name) @name.reference.call .))
(member_call_expression name: (name) @name.reference.call)
(nullsafe_member_call_expression name: (name) @name.reference.call)
(scoped_call_expression name: (name) @name.reference.call)
((object_creation_expression (name) @name.reference.class) (#not-match? @name.reference.class "^(self|static|parent)$"))
(object_creation_expression (qualified_name (name) @name.reference.class .))
(base_clause (name) @name.reference.class)
(class_interface_clause (name) @name.reference.class)
(use_declaration (name) @name.reference.class)
((named_type (name) @name.reference.type) (#not-match? @name.reference.type "^(self|static|parent)$"))
