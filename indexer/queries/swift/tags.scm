; Swift definitions and references (Hearth's own query; standard tags capture names).
; class/struct/enum/actor share one node; an extension is a scope for the methods it adds.
(class_declaration declaration_kind: ["class" "actor"] name: (type_identifier) @name.definition.class) @definition.class
(class_declaration declaration_kind: "struct" name: (type_identifier) @name.definition.struct) @definition.struct
(class_declaration declaration_kind: "enum" name: (type_identifier) @name.definition.enum) @definition.enum
(class_declaration declaration_kind: "extension" name: (user_type (type_identifier) @name.scope.class)) @scope.class
(protocol_declaration name: (type_identifier) @name.definition.interface) @definition.interface
(protocol_function_declaration name: (simple_identifier) @name.definition.method) @definition.method
(function_declaration name: (simple_identifier) @name.definition.function) @definition.function
(init_declaration "init" @name.definition.method) @definition.method
(typealias_declaration name: (type_identifier) @name.definition.type) @definition.type
; One enum case line may declare several cases: each name is its own definition.
(enum_entry name: (simple_identifier) @name.definition.constant @definition.constant)
; Top-level `let` is a constant and `var` a variable; stored properties belong to their type.
(source_file (property_declaration (value_binding_pattern "let") name: (pattern bound_identifier: (simple_identifier) @name.definition.constant)) @definition.constant)
(source_file (property_declaration (value_binding_pattern "var") name: (pattern bound_identifier: (simple_identifier) @name.definition.variable)) @definition.variable)
(class_body (property_declaration name: (pattern bound_identifier: (simple_identifier) @name.definition.property)) @definition.property)
(protocol_body (protocol_property_declaration name: (pattern bound_identifier: (simple_identifier) @name.definition.property)) @definition.property)
(call_expression . (simple_identifier) @name.reference.call)
(call_expression . (navigation_expression suffix: (navigation_suffix suffix: (simple_identifier) @name.reference.call)))
(inheritance_specifier inherits_from: (user_type (type_identifier) @name.reference.class))
(parameter (user_type (type_identifier) @name.reference.type))
