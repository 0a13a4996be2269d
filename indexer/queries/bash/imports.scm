; Bash `source FILE` and `. FILE`: the path is both the module and the imported name; a path that
; expands variables is only a module.
((command name: (command_name (word) @_cmd) . argument: [(word) (raw_string)] @import.module @import.name)
  (#any-of? @_cmd "source" "."))
((command name: (command_name (word) @_cmd) . argument: (string . (string_content) @import.module @import.name .))
  (#any-of? @_cmd "source" "."))
((command name: (command_name (word) @_cmd) . argument: (string) @import.module)
  (#any-of? @_cmd "source" ".")
  (#match? @import.module "\\$"))
