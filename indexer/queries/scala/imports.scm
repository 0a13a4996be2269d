; Scala imports. The path before the imported name is the module, several sibling identifiers, all
; captured as @import.module (in order). `import a.b.C` imports C from a.b; `import a.b.{C, D => E}`
; imports C and D (as E) from a.b; `import a.b._` / `import a.b.*` imports the module a.b.
(import_declaration . ((identifier) @import.module ".")+ (identifier) @import.name .)
(import_declaration . ((identifier) @import.module ".")+ (namespace_selectors (identifier) @import.name))
(import_declaration . ((identifier) @import.module ".")+
  (namespace_selectors (arrow_renamed_identifier name: (identifier) @import.name alias: (identifier) @import.alias)))
(import_declaration . ((identifier) @import.module ".")+ (namespace_wildcard))
