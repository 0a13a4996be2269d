; C# using directives: `using A.B;` imports namespace A.B; `using X = A.B.C;` aliases A.B.C as X.
(using_directive . [(identifier) (qualified_name)] @import.module .)
(using_directive name: (identifier) @import.alias [(identifier) (qualified_name)] @import.module)
