; Lua `require("mod")` / `require "mod"`, with the local it is assigned to as the alias.
((function_call name: (identifier) @_req arguments: (arguments . (string content: (string_content) @import.module)))
  (#eq? @_req "require"))
((variable_declaration (assignment_statement (variable_list . name: (identifier) @import.alias)
   (expression_list . value: (function_call name: (identifier) @_req arguments: (arguments . (string content: (string_content) @import.module))))))
  (#eq? @_req "require"))
