"""The cursor site and receiver-type inference used to predict the callee (no database)."""

from __future__ import annotations

import pytest

from hearth.indexer.types import Hit
from hearth.server.services.context import (
    CursorSite,
    _bases,
    _enclosing_types,
    _infer_type,
    _module_matches,
    _module_path_patterns,
    cursor_site,
    open_call_paren,
    rrf,
    symbol_weight,
)


@pytest.mark.parametrize(
    ("before", "site"),
    [
        ("    x = obj.", CursorSite("obj", ".", "")),
        ("    total = cart.to", CursorSite("cart", ".", "to")),
        ("  self.ctx.fo", CursorSite("self.ctx", ".", "fo")),
        ("let r = Regex::ne", CursorSite("Regex", "::", "ne")),
        ("cmd.Root().", CursorSite("cmd.Root()", ".", "")),
        ("print(comp", CursorSite(None, "", "comp")),
        ("", CursorSite(None, "", "")),
        ("x = 1 + ", CursorSite(None, "", "")),
        ("名前 = データ.", CursorSite("データ", ".", "")),
    ],
)
def test_cursor_site(before: str, site: CursorSite) -> None:
    assert cursor_site(before) == site


@pytest.mark.parametrize(
    ("var", "buffer", "language", "expected"),
    [
        ("cart", "def f(cart: Cart) -> None:\n    cart.", "python", "Cart"),
        ("c", "c = shop.Cart('me')\nc.", "python", "shop.Cart"),
        ("fmt", "with Formatter(width=3) as fmt:\n    fmt.", "python", "Formatter"),
        ("s", "const s = new Subscriber(dest);\ns.", "typescript", "Subscriber"),
        ("c", "func (c *Command) Run() {\n\tc.", "go", "Command"),
        ("root", "root := &Command{Use: \"x\"}\nroot.", "go", "Command"),
        ("re", "let mut re = RegexBuilder::new(p)\nre.", "rust", "RegexBuilder"),
        ("x", "x.", "python", None),
        ("", "", "python", None),
    ],
)
def test_infer_type(var: str, buffer: str, language: str, expected: str | None) -> None:
    assert _infer_type(var, buffer, language) == expected


def test_enclosing_type_is_the_nearest_class_or_impl() -> None:
    buf = "class A:\n    pass\n\nclass B(A):\n    def f(self):\n        self."
    assert _enclosing_types(buf, "python") == ["B"]
    assert _enclosing_types("impl<'t> Fmt for Match<'t> {\n    fn f(&self) {\n        self.", "rust") == ["Match"]
    assert _enclosing_types("no classes here", "python") == []


def test_bases_from_signature_lines() -> None:
    assert _bases("class Option(Parameter):") == ["Parameter"]
    assert _bases("class Tuple(CompositeParamType[tuple[t.Any, ...]], metaclass=M):") == ["CompositeParamType"]
    assert _bases("export class SafeSubscriber<T> extends Subscriber<T> implements Observer<T> {") == [
        "Subscriber",
        "Observer",
    ]
    assert _bases("class Plain:") == []


def test_module_patterns() -> None:
    assert "shop/util/strings.%" in _module_path_patterns(".util.strings", "shop/cart.py", "python")
    assert "web/format.%" in _module_path_patterns("./format", "web/api.ts", "typescript")
    assert "lib/x.%" in _module_path_patterns("../lib/x", "web/api.ts", "typescript")
    assert "%/click/%" in _module_path_patterns("click", "tests/test_x.py", "python")
    assert "doc/%.go" in _module_path_patterns("github.com/spf13/cobra/doc", "main.go", "go")
    assert _module_path_patterns("", "a.py", "python") == []
    # LIKE wildcards in names are escaped
    assert "my\\_mod.%" in _module_path_patterns("my_mod", "a.py", "python")


@pytest.mark.parametrize(
    ("before", "col"),
    [
        ("    amount = compute_total(", 26),
        ("    amount = compute_total(self.items, ", 26),
        ("x = outer(a, inner(b), ", 9),
        ("x = outer(a, inner(", 18),
        ("x = outer(a)", None),
        ("x = [1, (2, ", None),  # a parenthesised expression, not a call
        ('log("f(x", ', 3),  # the paren inside the string does not count
        ("", None),
        ("if (", 2),
    ],
)
def test_open_call_paren(before: str, col: int | None) -> None:
    assert open_call_paren(before) == col


def test_identifier_queries_weigh_exact_names_most() -> None:
    assert symbol_weight("compute_total", ["compute_total"]) == 4.0
    assert symbol_weight("Store.definitions", ["Store", "definitions"]) == 4.0
    assert symbol_weight("where is compute_total called", ["compute_total"]) == 2.0
    assert symbol_weight("def f(x):\n    return x + 1\n" * 20, ["f"]) == 1.0


def test_weighted_rrf_puts_the_heavier_list_first() -> None:
    a, b = Hit("a.py", 1, 5, 0, "fts"), Hit("b.py", 1, 5, 0, "symbol", symbol="f")
    b_fts = Hit("b.py", 1, 5, 0, "fts", symbol="VAT_RATE")
    fused = rrf([[b], [a, b_fts]], weights=[4.0, 1.0])
    assert [h.path for h in fused] == ["b.py", "a.py"]
    assert fused[0].symbol == "f" and fused[0].source == "fts+symbol"
    assert [h.path for h in rrf([[a, b_fts], [b]])] == ["b.py", "a.py"]  # unweighted: found twice beats once


@pytest.mark.parametrize(
    ("path", "module", "current", "expected"),
    [
        ("src/click/core.py", "click.core", "src/click/main.py", True),
        ("src/click/core.py", "click", "src/click/main.py", True),  # the package's directory
        ("click/__init__.py", "click", "x.py", True),
        ("src/click/core.py", "click.types", "src/click/main.py", False),
        ("src/click/core.py", ".core", "src/click/main.py", True),  # relative module
        ("src/core.py", "..core", "src/click/main.py", True),
        ("src/click/core.py", "..core", "src/click/main.py", False),
        ("pkg/util/index.ts", "'./util'", "pkg/x.ts", True),  # relative path, quoted
        ("lib/util.ts", "./util", "pkg/a.ts", False),
        ("src/foo/bar.rs", "crate::foo::bar", "src/main.rs", True),
        ("x/cobra/command.go", '"github.com/spf13/cobra"', "main.go", False),
    ],
)
def test_module_matches(path: str, module: str, current: str, expected: bool) -> None:
    assert _module_matches(path, module, current) is expected
    assert _module_matches(path, module, current) is expected  # the cached path arithmetic gives the same
