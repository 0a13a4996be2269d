; Kotlin imports. Kotlin's qualified names are flat, so the module is the whole path
; (`import a.b.C` gives module a.b.C and name C); `import a.b.*` gives module a.b.
((import (qualified_identifier (identifier) @import.name .) @import.module) @_import
  (#not-match? @_import "\\*"))
(import (qualified_identifier (identifier) @import.name .) @import.module (identifier) @import.alias)
(import (qualified_identifier) @import.module "*")
