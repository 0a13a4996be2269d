; Java imports: `import a.b.C;` gives module a.b and name C; `import a.b.*;` gives module a.b.
(import_declaration (scoped_identifier scope: (_) @import.module name: (identifier) @import.name) .)
(import_declaration (scoped_identifier) @import.module (asterisk))
