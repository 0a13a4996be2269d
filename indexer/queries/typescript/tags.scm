; TypeScript and TSX definitions and references (standard tags capture names).
(function_declaration name: (identifier) @name.definition.function) @definition.function
(generator_function_declaration name: (identifier) @name.definition.function) @definition.function
(function_signature name: (identifier) @name.definition.function) @definition.function
(class_declaration name: (type_identifier) @name.definition.class) @definition.class
(abstract_class_declaration name: (type_identifier) @name.definition.class) @definition.class
(method_definition name: (property_identifier) @name.definition.method) @definition.method
(method_signature name: (property_identifier) @name.definition.method) @definition.method
(abstract_method_signature name: (property_identifier) @name.definition.method) @definition.method
(interface_declaration name: (type_identifier) @name.definition.interface) @definition.interface
(type_alias_declaration name: (type_identifier) @name.definition.type) @definition.type
(enum_declaration name: (identifier) @name.definition.enum) @definition.enum
(module name: (identifier) @name.definition.module) @definition.module
(lexical_declaration (variable_declarator name: (identifier) @name.definition.function value: [(arrow_function) (function_expression)])) @definition.function
(program (lexical_declaration (variable_declarator name: (identifier) @name.definition.constant value: [(object) (array) (string) (number) (call_expression) (new_expression) (template_string)])) @definition.constant)
(program (export_statement (lexical_declaration (variable_declarator name: (identifier) @name.definition.constant value: [(object) (array) (string) (number) (call_expression) (new_expression) (template_string)])) @definition.constant))
(call_expression function: (identifier) @name.reference.call)
(call_expression function: (member_expression property: (property_identifier) @name.reference.call))
(new_expression constructor: (identifier) @name.reference.class)
(type_annotation (type_identifier) @name.reference.type)
