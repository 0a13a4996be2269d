; Python definitions and references. Captures: @definition.<kind> on the whole node,
; @name.definition.<kind> on its name, @name.reference.<kind> on a referenced name.
(class_definition name: (identifier) @name.definition.class) @definition.class
(function_definition name: (identifier) @name.definition.function) @definition.function
(module (expression_statement (assignment left: (identifier) @name.definition.constant)) @definition.constant)
(class_definition body: (block (expression_statement (assignment left: (identifier) @name.definition.field)) @definition.field))
(call function: (identifier) @name.reference.call)
(call function: (attribute attribute: (identifier) @name.reference.call))
(class_definition superclasses: (argument_list (identifier) @name.reference.class))
(type (identifier) @name.reference.type)
