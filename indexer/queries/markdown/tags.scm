; Markdown sections (Hearth's own query): each heading's section is a definition of kind "section",
; named by the heading text, so documents are chunked by section and nested sections get a scope.
; The block grammar nests sections only under ATX (`#`) headings; a setext heading that does not
; open a section is a section definition on its own.
(section . (atx_heading heading_content: (inline) @name.definition.section)) @definition.section
(section . (setext_heading heading_content: (paragraph (inline) @name.definition.section))) @definition.section
(section (_) . (setext_heading heading_content: (paragraph (inline) @name.definition.section)) @definition.section)
