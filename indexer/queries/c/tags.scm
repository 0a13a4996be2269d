; C definitions and references (Hearth's own query; standard tags capture names).
; Top-level patterns also look inside #ifdef/#if blocks, so header guards do not hide them.
(function_definition declarator: (function_declarator declarator: (identifier) @name.definition.function)) @definition.function
(function_definition declarator: (pointer_declarator declarator: (function_declarator declarator: (identifier) @name.definition.function))) @definition.function
; Prototypes (for headers); a local prototype is rare enough to count too.
(declaration declarator: (function_declarator declarator: (identifier) @name.definition.function)) @definition.function
(declaration declarator: (pointer_declarator declarator: (function_declarator declarator: (identifier) @name.definition.function))) @definition.function
(struct_specifier name: (type_identifier) @name.definition.struct body: (field_declaration_list)) @definition.struct
(union_specifier name: (type_identifier) @name.definition.struct body: (field_declaration_list)) @definition.struct
(enum_specifier name: (type_identifier) @name.definition.enum body: (enumerator_list)) @definition.enum
(enumerator name: (identifier) @name.definition.constant) @definition.constant
(type_definition declarator: (type_identifier) @name.definition.type) @definition.type
(field_declaration declarator: (field_identifier) @name.definition.field) @definition.field
(field_declaration declarator: (pointer_declarator declarator: (field_identifier) @name.definition.field)) @definition.field
(preproc_def name: (identifier) @name.definition.constant) @definition.constant
(preproc_function_def name: (identifier) @name.definition.macro) @definition.macro
; Globals at file level (or inside #if/#ifdef): `const` ones are constants, the others variables.
[
  (translation_unit
    (declaration declarator: (init_declarator declarator: [(identifier) @name.definition.constant (pointer_declarator declarator: (identifier) @name.definition.constant)])) @definition.constant)
  (preproc_ifdef
    (declaration declarator: (init_declarator declarator: [(identifier) @name.definition.constant (pointer_declarator declarator: (identifier) @name.definition.constant)])) @definition.constant)
  (preproc_if
    (declaration declarator: (init_declarator declarator: [(identifier) @name.definition.constant (pointer_declarator declarator: (identifier) @name.definition.constant)])) @definition.constant)
  (#match? @definition.constant "^[^=]*\\bconst\\b")
]
[
  (translation_unit
    (declaration declarator: [(identifier) @name.definition.variable (init_declarator declarator: [(identifier) @name.definition.variable (pointer_declarator declarator: (identifier) @name.definition.variable)])]) @definition.variable)
  (preproc_ifdef
    (declaration declarator: [(identifier) @name.definition.variable (init_declarator declarator: [(identifier) @name.definition.variable (pointer_declarator declarator: (identifier) @name.definition.variable)])]) @definition.variable)
  (preproc_if
    (declaration declarator: [(identifier) @name.definition.variable (init_declarator declarator: [(identifier) @name.definition.variable (pointer_declarator declarator: (identifier) @name.definition.variable)])]) @definition.variable)
  (#not-match? @definition.variable "^[^=]*\\b(const|extern)\\b")
]
(call_expression function: (identifier) @name.reference.call)
(call_expression function: (field_expression field: (field_identifier) @name.reference.call))
(struct_specifier name: (type_identifier) @name.reference.type !body)
(parameter_declaration type: (type_identifier) @name.reference.type)
(declaration type: (type_identifier) @name.reference.type)
