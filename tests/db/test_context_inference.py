"""Callee prediction on a real index (issue 4, recall): receiver chains typed through declared return types,
TypeScript barrels and `.js` module paths, type-only TypeScript names, Go siblings, Rust modules."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hearth.indexer.languages import LanguageRegistry
from hearth.indexer.store.db import Store
from hearth.server.services.context import ContextService, RepoHandle
from tests.conftest import index_repo

FILES = {
    "src/builder.rs": """pub struct Command {
    name: String,
}

impl Command {
    pub fn new(name: &str) -> Self {
        Command { name: name.to_string() }
    }

    pub fn about(self, text: &str) -> Self {
        self
    }

    pub fn get_matches(self) -> Matches {
        Matches {}
    }

    pub fn all_matches(&self) -> impl Iterator<Item = &Matches> {
        [].iter()
    }
}
""",
    "src/matches.rs": """pub struct Matches {}

impl Matches {
    pub fn value_of(&self, id: &str) -> Option<String> {
        None
    }
}
""",
    "src/other.rs": """pub struct Other {}

impl Other {
    pub fn about(&self) -> u8 {
        1
    }

    pub fn describe(&self) -> String {
        String::new()
    }
}
""",
    "src/arg.rs": """pub struct Arg {}

impl Arg {
    pub fn value_parser(mut self, parser: u8) -> Self {
        self
    }

    pub fn require_equals(self, yes: bool) -> Self {
        self
    }
}
""",
    "src/factory.rs": """pub trait ValueParserFactory {
    fn value_parser(&self) -> u8;
}

pub struct Parsers {}

impl Parsers {
    fn value_parser() -> Other {
        Other {}
    }
}
""",
    "src/error.rs": """pub struct Error {}

impl Error {
    pub(crate) fn too_few_values(n: usize) -> Self {
        Error {}
    }
}
""",
    "src/exec.rs": """use std::sync::Arc;

pub struct Exec {
    ro: Arc<ExecReadOnly>,
}

pub struct ExecReadOnly {
    pub(crate) nfa: Program,
}

impl Exec {
    pub fn regex_strings(&self) -> &[String] {
        &[]
    }
}
""",
    "src/prog.rs": """pub struct Program {}

impl Program {
    pub fn uses_bytes(&self) -> bool {
        true
    }
}
""",
    "src/backtrack.rs": """pub fn should_exec(n: usize) -> bool {
    n < 10
}
""",
    "v4/core/index.ts": 'export * from "./api.js";\nexport * from "./schemas.js";\n',
    "v4/core/api.ts": "export function _coercedString(params: string) {\n  return params;\n}\n",
    "v4/core/schemas.ts": "export interface $ZodStringDef {\n  coerce: boolean;\n}\n",
    "internal/Subject.ts": "export class Subject<T> {\n  protected _throwIfClosed() {\n    return;\n  }\n}\n",
    "internal/Notification.ts": "export class Notification<T> {\n  static createNext<T>(value: T) {\n"
    "    return new Notification();\n  }\n}\n\nexport function observeNotification(n: any) {\n  return n;\n}\n",
    "flagset/flag.go": "package flagset\n\ntype FlagSet struct{}\n\nfunc NewFlagSet(name string) *FlagSet {\n"
    "\treturn &FlagSet{}\n}\n",
    "flagset/z_bool_slice.go": "package flagset\n\nfunc (f *FlagSet) GetBoolSlice(name string) ([]bool, error) {\n"
    "\treturn nil, nil\n}\n",
    "flagset/a_string_array.go": "package flagset\n\n"
    "func (f *FlagSet) GetStringArray(name string) ([]string, error) {\n\treturn nil, nil\n}\n",
    "flagset/a_test.go": "package flagset\n\nfunc setUpAFlagSet() *FlagSet {\n\treturn nil\n}\n",
}


@pytest.fixture
def indexed(store: Store, tmp_path: Path) -> tuple[ContextService, RepoHandle]:
    root = tmp_path / "repo"
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return ContextService(store, LanguageRegistry.default(), None), index_repo(store, root)


def _definitions(service: ContextService, repo: RepoHandle, path: str, text: str) -> list[str]:
    """The predicted callees at the end of ``text``, best first (callee predictions score 2.5 and more, 1.0 more
    once ranked; the identifiers' definitions, which also come with the definitions source, score less)."""
    lines = text.split("\n")
    result = asyncio.run(
        service.for_completion(repo, path, text, len(lines) - 1, len(lines[-1]), budget_tokens=4096,
                               wait_for_all=True)
    )
    return [f"{h.path}:{h.symbol}" for h in result.items if h.source == "definition" and h.score >= 3.5]


def test_a_builder_chain_continued_on_the_next_line_is_typed_by_its_calls(
    indexed: tuple[ContextService, RepoHandle],
) -> None:
    service, repo = indexed
    text = 'fn main() {\n    let m = Command::new("x")\n        .about("y")\n        .'
    defs = _definitions(service, repo, "examples/demo.rs", text)
    assert defs and all(d.startswith("src/builder.rs:Command.") for d in defs)


def test_a_chain_through_a_declared_return_type_reaches_the_returned_type(
    indexed: tuple[ContextService, RepoHandle],
) -> None:
    service, repo = indexed
    text = 'fn main() {\n    let v = Command::new("x").about("y").get_matches().'
    defs = _definitions(service, repo, "examples/demo.rs", text)
    assert defs and defs[0] == "src/matches.rs:Matches.value_of"


def test_a_rust_path_without_use_is_a_module_of_the_crate(indexed: tuple[ContextService, RepoHandle]) -> None:
    service, repo = indexed
    defs = _definitions(service, repo, "src/exec.rs", "fn run() {\n    if backtrack::")
    assert defs and defs[0] == "src/backtrack.rs:should_exec"


def test_a_typescript_barrel_import_finds_its_directorys_functions_and_never_an_interface(
    indexed: tuple[ContextService, RepoHandle],
) -> None:
    service, repo = indexed
    text = 'import * as core from "../core/index.js";\n\nexport function string(p: string) {\n  return core.'
    defs = _definitions(service, repo, "v4/mini/coerce.ts", text)
    assert defs and defs[0] == "v4/core/api.ts:_coercedString"
    assert not any("$ZodStringDef" in d for d in defs)


def test_a_go_function_does_not_call_its_siblings(indexed: tuple[ContextService, RepoHandle]) -> None:
    service, repo = indexed
    text = "package flagset\n\nfunc setUpBFlagSet() *FlagSet {\n\tf := "
    defs = _definitions(service, repo, "flagset/b_test.go", text)
    assert "flagset/flag.go:NewFlagSet" in defs and "flagset/a_test.go:setUpAFlagSet" in defs
    assert defs.index("flagset/flag.go:NewFlagSet") < defs.index("flagset/a_test.go:setUpAFlagSet")


def test_a_chain_from_a_macro_is_typed_by_the_definitions_its_calls_can_reach(
    indexed: tuple[ContextService, RepoHandle],
) -> None:
    service, repo = indexed
    # value_parser is defined three times; only Arg's takes self and one argument.
    text = "fn main() {\n    let a = arg!(--color)\n        .value_parser(1)\n        ."
    defs = _definitions(service, repo, "examples/demo.rs", text)
    assert defs and all(d.startswith("src/arg.rs:Arg.") for d in defs)


def test_an_aliased_type_path_finds_the_original_types_functions(indexed: tuple[ContextService, RepoHandle]) -> None:
    service, repo = indexed
    text = "use crate::error::Error as ClapError;\n\nfn check() -> Result<(), ClapError> {\n    return Err(ClapError::"
    defs = _definitions(service, repo, "src/parser.rs", text)
    assert defs and defs[0] == "src/error.rs:Error.too_few_values"


def test_a_tuple_structs_field_is_typed_from_the_struct(indexed: tuple[ContextService, RepoHandle]) -> None:
    service, repo = indexed
    text = "pub struct Regex(Exec);\n\nimpl Regex {\n    pub fn names(&self) -> &[String] {\n        &self.0."
    defs = _definitions(service, repo, "src/re_unicode.rs", text)
    assert defs and defs[0] == "src/exec.rs:Exec.regex_strings"


def test_this_in_a_subclass_reaches_the_base_named_on_the_class_header(
    indexed: tuple[ContextService, RepoHandle],
) -> None:
    service, repo = indexed
    text = (
        'import { Subject } from "./Subject";\n\nexport class BehaviorSubject<T> extends Subject<T> {\n'
        "  getValue(): T {\n    this."
    )
    defs = _definitions(service, repo, "internal/BehaviorSubject.ts", text)
    assert defs and defs[0] == "internal/Subject.ts:Subject._throwIfClosed"


def test_an_imported_class_gives_its_static_members_before_its_modules_functions(
    indexed: tuple[ContextService, RepoHandle],
) -> None:
    service, repo = indexed
    text = 'import { Notification } from "../Notification";\n\nexport function f(s: any) {\n  s.next(Notification.'
    defs = _definitions(service, repo, "internal/operators/materialize.ts", text)
    assert defs and defs[0] == "internal/Notification.ts:Notification.createNext"


def test_a_field_declared_far_above_the_cursor_still_types_it(indexed: tuple[ContextService, RepoHandle]) -> None:
    service, repo = indexed
    filler = "".join(f"fn filler_{i}() {{}}\n" for i in range(450))
    text = f"pub struct Regex(Exec);\n\n{filler}\nimpl Regex {{\n    pub fn names(&self) -> &[String] {{\n"
    text += "        &self.0."
    defs = _definitions(service, repo, "src/re_unicode.rs", text)
    assert defs and defs[0] == "src/exec.rs:Exec.regex_strings"


def test_a_loop_variable_has_the_type_of_the_iterated_calls_elements(
    indexed: tuple[ContextService, RepoHandle],
) -> None:
    service, repo = indexed
    text = 'fn main() {\n    let cmd = Command::new("x");\n    for sc in cmd.all_matches() {\n        sc.'
    defs = _definitions(service, repo, "examples/loop.rs", text)
    assert defs and defs[0] == "src/matches.rs:Matches.value_of"


def test_a_variable_bound_to_a_chain_has_the_chains_type(indexed: tuple[ContextService, RepoHandle]) -> None:
    service, repo = indexed
    text = 'fn main() {\n    let got = Command::new("x").about("y").get_matches().clone();\n    got.'
    defs = _definitions(service, repo, "examples/bound.rs", text)
    assert defs and defs[0] == "src/matches.rs:Matches.value_of"


def test_fields_declared_in_other_files_type_a_field_chain(indexed: tuple[ContextService, RepoHandle]) -> None:
    service, repo = indexed
    store = service.store
    assert store.field_declarations(repo.repo_id, repo.snapshot_id, ["Exec"], "ro") == ["Arc<ExecReadOnly>"]
    assert store.field_declarations(repo.repo_id, repo.snapshot_id, ["ExecReadOnly"], "nfa") == ["Program"]
    assert store.field_declarations(repo.repo_id, repo.snapshot_id, ["Exec"], "nfa") == []
    text = "use crate::exec::Exec;\n\nimpl Exec {\n    fn is_bytes(&self) -> bool {\n        if self.ro.nfa."
    defs = _definitions(service, repo, "src/exec_impl.rs", text)
    assert defs and defs[0] == "src/prog.rs:Program.uses_bytes"


def test_the_variables_a_member_call_is_assigned_to_rank_its_callees(
    indexed: tuple[ContextService, RepoHandle],
) -> None:
    service, repo = indexed
    # ``getBS`` abbreviates Get-Bool-Slice; the assignment is read before the receiver ``f.``.
    text = "package flagset\n\nfunc TestBS(t *testing.T) {\n\tf := setUpAFlagSet()\n\tgetBS, err := f."
    defs = _definitions(service, repo, "flagset/bs_test.go", text)
    assert "flagset/z_bool_slice.go:GetBoolSlice" in defs and "flagset/a_string_array.go:GetStringArray" in defs
    assert defs.index("flagset/z_bool_slice.go:GetBoolSlice") < defs.index("flagset/a_string_array.go:GetStringArray")


def test_a_go_variable_from_a_capitalized_constructor_has_its_result_type(
    indexed: tuple[ContextService, RepoHandle],
) -> None:
    service, repo = indexed
    text = 'package flagset\n\nfunc TestNew(t *testing.T) {\n\tf := NewFlagSet("x")\n\tf.'
    defs = _definitions(service, repo, "flagset/new_test.go", text)
    assert defs and all(d.split(":", 1)[1] in ("GetBoolSlice", "GetStringArray") for d in defs)
