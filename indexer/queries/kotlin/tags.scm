; Kotlin definitions and references (Hearth's own query; standard tags capture names).
; A function inside a class, interface or object becomes a method (the indexer does that).
((class_declaration "class" name: (identifier) @name.definition.class) @definition.class
  (#not-match? @definition.class "^[^{]*\\benum\\s+class\\b"))
((class_declaration "class" name: (identifier) @name.definition.enum) @definition.enum
  (#match? @definition.enum "^[^{]*\\benum\\s+class\\b"))
(class_declaration "interface" name: (identifier) @name.definition.interface) @definition.interface
(object_declaration name: (identifier) @name.definition.object) @definition.object
(enum_entry . (identifier) @name.definition.constant) @definition.constant
(function_declaration name: (identifier) @name.definition.function) @definition.function
(type_alias type: (identifier) @name.definition.type) @definition.type
(class_parameter ["val" "var"] . (identifier) @name.definition.property) @definition.property
; `const val` anywhere is a constant; other members are properties, other top-level values variables.
(property_declaration (modifiers (property_modifier "const")) (variable_declaration (identifier) @name.definition.constant)) @definition.constant
((class_body (property_declaration (variable_declaration (identifier) @name.definition.property)) @definition.property)
  (#not-match? @definition.property "^[^=]*\\bconst\\b"))
((source_file (property_declaration (variable_declaration (identifier) @name.definition.variable)) @definition.variable)
  (#not-match? @definition.variable "^[^=]*\\bconst\\b"))
(call_expression . (identifier) @name.reference.call)
(call_expression . (navigation_expression (identifier) @name.reference.call .))
(delegation_specifier (user_type (identifier) @name.reference.class))
(delegation_specifier (constructor_invocation (user_type (identifier) @name.reference.class)))
(parameter (user_type (identifier) @name.reference.type))
