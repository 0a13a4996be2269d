; Swift imports: `import Module` and `import struct Module.Name` (the whole path is the module).
(import_declaration (identifier) @import.module)
