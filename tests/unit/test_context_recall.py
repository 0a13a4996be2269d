"""Callee prediction's inference rules (issue 4, recall): siblings, receiver chains, declared return types,
TypeScript module paths, Rust visibility."""

from __future__ import annotations

from hearth.server.services.context import (
    UNKNOWN_ROOT,
    ChainStep,
    _abbreviates_run,
    _annotation_type,
    _binding,
    _count_args,
    _declared_return,
    _depth_weight,
    _element_type,
    _enclosing_bases,
    _infer_type,
    _method_accepts,
    _module_path_patterns,
    _rust_visibility,
    call_slot,
    enclosing_function,
    is_sibling,
    receiver_chain,
    statement_target,
)


def test_enclosing_function_is_the_last_header_before_the_cursor() -> None:
    go = "func a() {\n}\n\nfunc (f *FlagSet) setUpBSFlagSet(bsp *[]bool) *FlagSet {\n\tf := "
    assert enclosing_function(go) == "setUpBSFlagSet"
    assert enclosing_function("class A:\n    async def load(self):\n        x = ") == "load"
    assert enclosing_function("impl A {\n    pub(crate) fn build(self) -> A {\n        ") == "build"
    assert enclosing_function("export function parse(s: string) {\n  return ") == "parse"
    assert enclosing_function("x = 1\n") is None


def test_siblings_share_a_family_of_names_but_wrappers_and_helpers_are_not_siblings() -> None:
    assert is_sibling("setUpIPNetFlagSet", "setUpBSFlagSet")  # first two words
    assert is_sibling("newBoolValue", "newIntValue")  # first and last word
    assert not is_sibling("NewFlagSet", "setUpBSFlagSet")
    assert not is_sibling("parseArgsInner", "parseArgs")  # one extends the other: a helper
    assert not is_sibling("parse", "parse")
    assert not is_sibling("_uuidv6", "uuidv6")  # an implementation called by its public wrapper
    assert not is_sibling("getName", "getValue")  # one shared word is no family
    assert not is_sibling("load", None)


def test_receiver_chain_follows_calls_across_lines_and_skips_arguments() -> None:
    text = 'let cmd = clap::Command::new("git")\n    .about(f(x, (1, 2)))\n    '
    assert receiver_chain(text) == [
        ChainStep("", "clap", False),
        ChainStep("::", "Command", False),
        ChainStep("::", "new", True, 1),
        ChainStep(".", "about", True, 1),
    ]
    assert receiver_chain("x = self.cmd") == [ChainStep("", "self", False), ChainStep(".", "cmd", False)]
    assert receiver_chain("&self.0") == [ChainStep("", "self", False), ChainStep(".", "0", False)]
    assert receiver_chain("let v = parse::<u8>(s)?") == [ChainStep("", "parse", True, 1)]
    assert receiver_chain("socket!") == [ChainStep("", "socket", False)]
    assert receiver_chain("items[0]") == []  # an element: its type is not the collection's
    assert receiver_chain("(a + b)") == []
    assert receiver_chain("for x in 0..") == []


def test_declared_return_unwraps_references_lifetimes_and_wrappers() -> None:
    assert _declared_return("pub fn version(mut self, ver: impl Into<Str>) -> Self {", "Command") == "Command"
    assert _declared_return("pub fn build(self) -> Result<Exec, Error> {", None) == "Exec"
    assert _declared_return("fn get(&self) -> &'a mut Foo<T> {", None) == "Foo"
    assert _declared_return("fn get(&self) -> Option<Box<Node>> where T: Clone {", None) == "Node"
    assert _declared_return("asObservable(): Observable<T> {", None) == "Observable"
    assert _declared_return("fn len(&self) -> usize {", None) is None
    assert _declared_return("fn run(&self) {", None) is None


def test_typescript_imports_name_the_emitted_file_and_index_is_a_barrel() -> None:
    assert _module_path_patterns("../core/index.js", "v4/mini/coerce.ts", "typescript") == ["v4/core/%"]
    assert _module_path_patterns("./util.js", "v4/core/schemas.ts", "typescript") == [
        "v4/core/util.%", "v4/core/util/%"
    ]
    assert _module_path_patterns("./index", "src/a.ts", "typescript") == ["src/%"]
    # Python's relative modules are unchanged.
    assert _module_path_patterns(".util", "pkg/a.py", "python") == [
        "pkg/util.%", "pkg/util/index.%", "pkg/util/__init__.py"
    ]
    assert _depth_weight("v4/core/api.ts", ["v4/core/%"]) == 1.0
    assert _depth_weight("v4/core/tests/api.test.ts", ["v4/core/%"]) < 1.0


def test_rust_visibility_from_other_crates_and_modules() -> None:
    assert _rust_visibility("pub fn get_matches(self) -> ArgMatches {", external=True) == 1.0
    assert _rust_visibility("pub(crate) fn get_keymap(&self) -> &MKeyMap {", external=True) < 0.5
    assert _rust_visibility("pub(crate) fn get_keymap(&self) -> &MKeyMap {", external=False) == 1.0
    assert _rust_visibility("fn helper(&self) {", external=False) < 1.0
    assert _rust_visibility("fn helper(&self) {", external=True) < _rust_visibility("fn helper(&self) {", False)


def test_rust_field_with_a_lifetime_types_its_variable() -> None:
    buf = "pub(crate) struct Parser<'cmd> {\n    cmd: &'cmd mut Command,\n}\nimpl Parser<'_> {\n    fn f(&self) { cmd"
    assert _infer_type("cmd", buf, "rust") == "Command"


def test_receiver_chain_roots_in_a_macro_or_expression_are_unknown_and_comments_are_skipped() -> None:
    text = 'arg!(--color <WHEN>)\n    .value_parser(["always", "never"]) // the choices\n    .num_args(0..=1)\n    '
    assert receiver_chain(text) == [
        ChainStep("", UNKNOWN_ROOT, False),
        ChainStep(".", "value_parser", True, 1),
        ChainStep(".", "num_args", True, 1),
    ]
    assert receiver_chain("(a + b).abs()")[0].name == UNKNOWN_ROOT
    assert receiver_chain("vec![1, 2]") == []  # a macro alone says nothing


def test_a_chain_step_matches_only_definitions_it_can_call() -> None:
    builder = "pub fn value_parser(mut self, parser: impl IntoResettable<super::ValueParser>) -> Self {"
    assert _method_accepts(builder, ".", 1, "rust")
    assert not _method_accepts(builder, ".", 0, "rust")  # one argument to pass
    assert not _method_accepts("fn value_parser() -> Self::Parser {", ".", 0, "rust")  # no self: not a method
    assert _method_accepts("fn value_parser() -> Self::Parser {", "::", 0, "rust")
    assert _method_accepts("fn value_parser(&'a self) -> P {", ".", 0, "rust")
    assert _method_accepts("pipe(a?: Op, b?: Op): Observable<T> {", ".", 1, "typescript")  # optional parameters
    assert _method_accepts("f(a, b, ...rest) {", ".", 5, "javascript")
    assert _count_args("") == 0 and _count_args('f(a, b), "x,y"') == 2 and _count_args("a,") == 1


def test_enclosing_bases_from_the_class_header_or_the_implemented_trait() -> None:
    assert _enclosing_bases("export class B<T> extends Subject<T> implements Obs {\n  f() {\n    this.") == [
        "Subject", "Obs"
    ]
    assert _enclosing_bases("class A(B, C):\n    def f(self):\n        self.") == ["B", "C"]
    assert _enclosing_bases("impl<'a> Iterator for Iter<'a> {\n    fn next(&mut self) {\n        self.") == [
        "Iterator"
    ]
    assert _enclosing_bases("impl Display for X {}\nimpl Foo {\n    fn x(&self) {\n        self.") == []


def test_binding_finds_the_expression_a_variable_was_last_bound_to_or_iterates() -> None:
    rust = "    let ma = self.get_mut(arg).expect(MSG);\n    ma"
    assert _binding("ma", rust) == ("self.get_mut(arg).expect(MSG)", False)
    assert _binding("sc", "for sc in cmd.get_subcommands() {\n    sc") == ("cmd.get_subcommands()", True)
    assert _binding("x", "for (const x of this.items()) {\n  x") == ("this.items()", True)
    assert _binding("x", "for x in self.items():\n    x") == ("self.items()", True)
    assert _binding("cfg", "cfg := loadConfig(path)\n\tcfg") == ("loadConfig(path)", False)
    assert _binding("a", "if a == b {\n    a") is None  # a comparison binds nothing


def test_element_type_of_collections_and_iterators() -> None:
    assert _element_type("pub fn get_subcommands(&self) -> impl Iterator<Item = &Command> {", None) == "Command"
    assert _element_type("fn args(&self) -> Vec<Arg> {", None) == "Arg"
    assert _element_type("fn args(&self) -> &[Arg] {", None) == "Arg"
    assert _element_type("items(): Item[] {", None) == "Item"
    assert _element_type("def items(self) -> list[Item]:", None) == "Item"
    assert _element_type("fn arg(&self) -> Arg {", None) is None  # not a collection


def test_annotation_type_removes_references_and_wrappers() -> None:
    assert _annotation_type("&'cmd mut Command") == "Command"
    assert _annotation_type("Arc<ExecReadOnly>") == "ExecReadOnly"
    assert _annotation_type("Option<Box<Node>>") == "Node"
    assert _annotation_type("Scheduler | null") == "Scheduler"
    assert _annotation_type("usize") is None


def test_statement_target_is_the_name_a_line_assigns() -> None:
    assert statement_target("  inst.ulid = (params) => inst.check(core.") == ["ulid"]
    assert statement_target("const total = sum(a, f(") == ["total"]
    assert statement_target("let mut ab = h(") == ["ab"]
    assert statement_target("if (a == b) f(") == []
    assert statement_target("return f(") == []


def test_a_match_scrutinee_is_a_value() -> None:
    assert call_slot("    match ")[0] == "value"
    assert call_slot("    let m = ")[0] == "value"


def test_a_short_word_abbreviates_a_run_of_a_names_words() -> None:
    assert _abbreviates_run("bs", ["get", "bool", "slice"])
    assert _abbreviates_run("ips", ["get", "ip", "slice"])
    assert _abbreviates_run("uis", ["get", "uint", "slice"])
    assert not _abbreviates_run("bs", ["get", "string", "array"])
    assert not _abbreviates_run("ab", ["abc"])  # one word: an ordinary abbreviation, not a run
