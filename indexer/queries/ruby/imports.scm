; Ruby require / require_relative / load with a literal path.
((call method: (identifier) @_req arguments: (argument_list . (string (string_content) @import.module)))
  (#any-of? @_req "require" "require_relative" "load"))
