; Scala 2 and 3 definitions and references (Hearth's own query; standard tags capture names).
(class_definition name: (identifier) @name.definition.class) @definition.class
(object_definition name: (identifier) @name.definition.object) @definition.object
(trait_definition name: (identifier) @name.definition.trait) @definition.trait
(enum_definition name: (identifier) @name.definition.enum) @definition.enum
(simple_enum_case name: (identifier) @name.definition.constant) @definition.constant
(full_enum_case name: (identifier) @name.definition.class) @definition.class
(function_definition name: (identifier) @name.definition.function) @definition.function
(function_declaration name: (identifier) @name.definition.function) @definition.function
(type_definition name: (type_identifier) @name.definition.type) @definition.type
; vals at file or object level are constants; in classes and traits, fields.
(compilation_unit (val_definition pattern: (identifier) @name.definition.constant) @definition.constant)
(object_definition body: (template_body (val_definition pattern: (identifier) @name.definition.constant) @definition.constant))
(class_definition body: (template_body [(val_definition pattern: (identifier) @name.definition.field) (var_definition pattern: (identifier) @name.definition.field)] @definition.field))
(trait_definition body: (template_body [(val_definition pattern: (identifier) @name.definition.field) (var_definition pattern: (identifier) @name.definition.field)] @definition.field))
(compilation_unit (var_definition pattern: (identifier) @name.definition.variable) @definition.variable)
(object_definition body: (template_body (var_definition pattern: (identifier) @name.definition.variable) @definition.variable))
(class_parameter ["val" "var"] name: (identifier) @name.definition.field) @definition.field
(class_definition "case" class_parameters: (class_parameters (class_parameter name: (identifier) @name.definition.field) @definition.field))
(call_expression function: (identifier) @name.reference.call)
(call_expression function: (field_expression field: (identifier) @name.reference.call))
(extends_clause type: (type_identifier) @name.reference.class)
(instance_expression (type_identifier) @name.reference.class)
(parameter type: (type_identifier) @name.reference.type)
