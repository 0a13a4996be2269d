; C++ definitions and references (Hearth's own query; standard tags capture names).
; A function defined inside a class/struct becomes a method (the indexer does that); out-of-line
; definitions `T Class::name()` and member declarations are methods here.
(function_definition declarator: (function_declarator declarator: (identifier) @name.definition.function)) @definition.function
(function_definition declarator: [(pointer_declarator) (reference_declarator)]
  (function_declarator declarator: (identifier) @name.definition.function)) @definition.function
(function_definition declarator: (pointer_declarator declarator: (function_declarator declarator: (identifier) @name.definition.function))) @definition.function
(function_definition declarator: (reference_declarator (function_declarator declarator: (identifier) @name.definition.function))) @definition.function
(function_definition declarator: (function_declarator declarator: [(field_identifier) (destructor_name) (operator_name)] @name.definition.method)) @definition.method
(function_definition declarator: (function_declarator declarator: (qualified_identifier name: [(identifier) (destructor_name) (operator_name)] @name.definition.method))) @definition.method
(function_definition declarator: (pointer_declarator declarator: (function_declarator declarator: (qualified_identifier name: (identifier) @name.definition.method)))) @definition.method
(function_definition declarator: (reference_declarator (function_declarator declarator: (qualified_identifier name: (identifier) @name.definition.method)))) @definition.method
(field_declaration declarator: (function_declarator declarator: [(field_identifier) (destructor_name) (operator_name)] @name.definition.method)) @definition.method
(declaration declarator: (function_declarator declarator: (identifier) @name.definition.function)) @definition.function
(class_specifier name: [(type_identifier) (template_type name: (type_identifier))] @name.definition.class body: (field_declaration_list)) @definition.class
(struct_specifier name: (type_identifier) @name.definition.struct body: (field_declaration_list)) @definition.struct
(union_specifier name: (type_identifier) @name.definition.struct body: (field_declaration_list)) @definition.struct
(enum_specifier name: (type_identifier) @name.definition.enum body: (enumerator_list)) @definition.enum
(enumerator name: (identifier) @name.definition.constant) @definition.constant
(namespace_definition name: [(namespace_identifier) (nested_namespace_specifier)] @name.definition.namespace) @definition.namespace
(type_definition declarator: (type_identifier) @name.definition.type) @definition.type
(alias_declaration name: (type_identifier) @name.definition.type) @definition.type
(concept_definition name: (identifier) @name.definition.type) @definition.type
(field_declaration declarator: (field_identifier) @name.definition.field) @definition.field
(field_declaration declarator: [(pointer_declarator) (reference_declarator)] (field_identifier) @name.definition.field) @definition.field
(preproc_def name: (identifier) @name.definition.constant) @definition.constant
(preproc_function_def name: (identifier) @name.definition.macro) @definition.macro
; Namespace- and file-level constants (const/constexpr) and variables.
[
  (translation_unit (declaration declarator: (init_declarator declarator: (identifier) @name.definition.constant)) @definition.constant)
  (declaration_list (declaration declarator: (init_declarator declarator: (identifier) @name.definition.constant)) @definition.constant)
  (preproc_ifdef (declaration declarator: (init_declarator declarator: (identifier) @name.definition.constant)) @definition.constant)
  (#match? @definition.constant "^[^=]*\\b(const|constexpr|constinit)\\b")
]
[
  (translation_unit (declaration declarator: [(identifier) @name.definition.variable (init_declarator declarator: (identifier) @name.definition.variable)]) @definition.variable)
  (declaration_list (declaration declarator: [(identifier) @name.definition.variable (init_declarator declarator: (identifier) @name.definition.variable)]) @definition.variable)
  (preproc_ifdef (declaration declarator: [(identifier) @name.definition.variable (init_declarator declarator: (identifier) @name.definition.variable)]) @definition.variable)
  (#not-match? @definition.variable "^[^=]*\\b(const|constexpr|constinit|extern)\\b")
]
(call_expression function: (identifier) @name.reference.call)
(call_expression function: (field_expression field: (field_identifier) @name.reference.call))
(call_expression function: (qualified_identifier name: (identifier) @name.reference.call))
(call_expression function: (template_function name: (identifier) @name.reference.call))
(base_class_clause (type_identifier) @name.reference.class)
(new_expression type: (type_identifier) @name.reference.class)
(parameter_declaration type: (type_identifier) @name.reference.type)
