; C++ #include: the header path is both the module and the imported name.
(preproc_include path: (string_literal (string_content) @import.module @import.name))
(preproc_include path: (system_lib_string) @import.module @import.name)
