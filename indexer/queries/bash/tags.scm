; Bash definitions and references (Hearth's own query; standard tags capture names).
(function_definition name: (word) @name.definition.function) @definition.function
; Top-level `readonly NAME=...` is a constant; other top-level assignments and exports are variables.
(program (declaration_command "readonly" (variable_assignment name: (variable_name) @name.definition.constant)) @definition.constant)
(program (declaration_command ["export" "declare" "typeset"] (variable_assignment name: (variable_name) @name.definition.variable)) @definition.variable)
(program (variable_assignment name: (variable_name) @name.definition.variable) @definition.variable)
(command name: (command_name (word) @name.reference.call))
