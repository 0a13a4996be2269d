; Ruby definitions and references (Hearth's own query; standard tags capture names).
; `def` inside a class or module becomes a method (the indexer does that); `def self.x` is a method.
(class name: [(constant) (scope_resolution)] @name.definition.class) @definition.class
(singleton_class value: (self) @name.scope.class) @scope.class
(module name: [(constant) (scope_resolution)] @name.definition.module) @definition.module
(method name: (_) @name.definition.function) @definition.function
(singleton_method name: (_) @name.definition.method) @definition.method
(alias name: (_) @name.definition.method) @definition.method
(assignment left: (constant) @name.definition.constant) @definition.constant
(call method: (identifier) @name.reference.call)
(superclass (constant) @name.reference.class)
(superclass (scope_resolution name: (constant) @name.reference.class))
(call receiver: (constant) @name.reference.class method: (identifier) @_new (#eq? @_new "new"))
