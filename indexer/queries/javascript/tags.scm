; JavaScript definitions and references (standard tags capture names).
(function_declaration name: (identifier) @name.definition.function) @definition.function
(generator_function_declaration name: (identifier) @name.definition.function) @definition.function
(class_declaration name: (identifier) @name.definition.class) @definition.class
(method_definition name: (property_identifier) @name.definition.method) @definition.method
(lexical_declaration (variable_declarator name: (identifier) @name.definition.function value: [(arrow_function) (function_expression)])) @definition.function
(variable_declaration (variable_declarator name: (identifier) @name.definition.function value: [(arrow_function) (function_expression)])) @definition.function
(program (lexical_declaration (variable_declarator name: (identifier) @name.definition.constant value: [(object) (array) (string) (number) (call_expression) (new_expression) (template_string)])) @definition.constant)
(program (export_statement (lexical_declaration (variable_declarator name: (identifier) @name.definition.constant value: [(object) (array) (string) (number) (call_expression) (new_expression) (template_string)])) @definition.constant))
(call_expression function: (identifier) @name.reference.call)
(call_expression function: (member_expression property: (property_identifier) @name.reference.call))
(new_expression constructor: (identifier) @name.reference.class)
