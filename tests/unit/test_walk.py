"""The ignore policy and the walker on bad input: each file is indexed or skipped with a reason,
and nothing hangs or stops the walk.

Tests run as root, which reads any file whatever its mode, so "unreadable" is exercised with a FIFO
(not a regular file) here and with a read that fails in tests/db/test_pipeline_bad_input.py.
"""

from __future__ import annotations

import os
from pathlib import Path

from hearth.indexer.walk import IgnorePolicy, Skip, WalkEntry


def walk(root: Path) -> tuple[dict[str, WalkEntry], dict[str, str]]:
    entries: dict[str, WalkEntry] = {}
    skips: dict[str, str] = {}
    for item in IgnorePolicy(root).walk():
        if isinstance(item, WalkEntry):
            entries[item.path] = item
        else:
            assert isinstance(item, Skip)
            skips[item.path] = item.reason
    return entries, skips


def test_bad_input_is_indexed_or_skipped_with_a_reason(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    outside = tmp_path / "outside.py"
    outside.write_text("def outside():\n    pass\n")
    (root / "ok.py").write_text("def ok():\n    pass\n")
    (root / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    (root / "blob.py").write_bytes(b"\x00\x01\x02" * 100)
    with open(root / "huge.py", "wb") as f:  # 50 MB, sparse
        f.truncate(50 * 1024 * 1024)
    (root / "latin1.py").write_bytes("def caf\xe9():\n    return '\xe9'\n".encode("latin-1"))
    (root / "crlf.py").write_bytes(b"def crlf():\r\n    return 1\r\n")
    (root / "loop").symlink_to(root)  # a directory loop
    (root / "a.py").symlink_to(root / "b.py")  # a file loop
    (root / "b.py").symlink_to(root / "a.py")
    (root / "dangling.py").symlink_to(root / "missing.py")
    (root / "escape.py").symlink_to(outside)
    (root / "escape_dir").symlink_to(tmp_path)
    os.mkfifo(root / "pipe.py")
    (root / "with space.py").write_text("def spaced():\n    pass\n")
    (root / "new\nline.py").write_text("def newline():\n    pass\n")
    (root / "naïve_日本.py").write_text("def unicode_name():\n    pass\n")
    entries, skips = walk(root)
    assert skips["image.png"] == "binary file type"
    assert skips["huge.py"] == "larger than 1024 KB"
    assert skips["escape.py"] == "symlink leaves the workspace"
    assert skips["escape_dir"] == "symlink leaves the workspace"
    assert skips["pipe.py"] == "not a regular file (fifo, socket or device)"
    assert skips["dangling.py"] == "broken symlink"
    assert skips["a.py"].startswith("symlink loop") and skips["b.py"].startswith("symlink loop")
    for name in ("ok.py", "latin1.py", "crlf.py", "with space.py", "new\nline.py", "naïve_日本.py", "blob.py"):
        assert name in entries, name
    # Content checks come after the read: NUL bytes are binary content.
    policy = IgnorePolicy(root)
    assert policy.check_content("blob.py", (root / "blob.py").read_bytes()) == "binary content"
    assert policy.check_content("latin1.py", (root / "latin1.py").read_bytes()) is None
    # The directory loop is walked once: no file appears under loop/.
    assert not any(p.startswith("loop/") for p in entries)


def test_classify_file_agrees_with_the_walker(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    (root / "src" / "x.py").write_text("x = 1\n")
    (root / ".env").write_text("SECRET=1\n")
    (root / ".gitignore").write_text("build_out/\n*.log\n")
    (root / "build_out").mkdir()
    (root / "build_out" / "y.py").write_text("y = 1\n")
    (root / "debug.log").write_text("noise\n")
    policy = IgnorePolicy(root)
    entries, skips = walk(root)
    for rel, reason in skips.items():
        if rel.endswith("/"):
            assert policy.ignored_by_rules(rel.rstrip("/"), is_dir=True) == reason
            continue
        verdict = policy.classify_file(rel, root / rel)
        assert isinstance(verdict, Skip) and verdict.reason == reason, rel
    for rel in entries:
        assert isinstance(policy.classify_file(rel, root / rel), WalkEntry)
    assert skips["build_out/"] == "ignored by .gitignore"
    assert policy.under_ignored_dir("build_out/y.py")
    assert not policy.under_ignored_dir("src/x.py")
    assert policy.classify_file("gone.py", root / "gone.py") is None


def test_name_rules_give_the_verdicts_of_the_pattern_lists(tmp_path: Path) -> None:
    """The walker matches the secret and generated-file patterns as one expression per list, per name;
    every path gets the verdict the pattern lists give when pathspec matches them one by one."""
    from hearth.indexer.walk import GENERATED_PATTERNS, SECRET_PATTERNS

    names = [
        ".env", ".env.local", "prod.env", "envy.py", "server.pem", "id_rsa", "id_rsa.pub", "id_ed25519_sk",
        "credentials", "credentials.yaml", "aws-credentials-prod.json", "credentials_test.py", "secrets.toml",
        "my.secret", "kubeconfig", "kubeconfig.py", "service-account-ci.json", "app.min.js", "app.js",
        "Cargo.lock", "go.sum", "api.pb.go", "api.go", "model_pb2.py", "x.generated.ts", "Form.designer.cs",
        "main.go", "README.md", ".netrc", "keys.py", "a.key", "a.keys",
    ]
    paths = [*names, *(f"src/{n}" for n in names), *(f"{n}/inner.py" for n in names), *(f"a/{n}/b/c.go" for n in names)]
    policy = IgnorePolicy(tmp_path)
    for path in paths:
        parts = path.split("/")
        if SECRET_PATTERNS.match_file(parts[-1]) or SECRET_PATTERNS.match_file(path):
            expected: str | None = "secret file"
        elif GENERATED_PATTERNS.match_file(parts[-1]):
            expected = "generated or lock file"
        else:
            expected = None
        assert policy.ignored_by_rules(path) == expected, path
    assert policy.ignored_by_rules("credentials/inner.py") == "secret file"  # a secret directory's files too
    assert policy.ignored_by_rules("src/app.js") is None


def test_nested_gitignore_rules_apply_per_directory(tmp_path: Path) -> None:
    """The .gitignore chain of each directory is looked up once and reused: a deeper file, a negation,
    and a rule that changes after ``invalidate`` all get the right verdict."""
    root = tmp_path / "repo"
    (root / "a" / "b").mkdir(parents=True)
    (root / ".gitignore").write_text("*.log\n")
    (root / "a" / ".gitignore").write_text("!keep.log\nscratch/\n")
    (root / "a" / "b" / ".gitignore").write_text("local.py\n")
    for rel in ("x.log", "a/x.log", "a/keep.log", "a/b/keep.log", "a/b/local.py", "a/local.py", "a/b/ok.py"):
        (root / rel).write_text("x\n")
    (root / "a" / "scratch").mkdir()
    (root / "a" / "scratch" / "s.py").write_text("x\n")
    entries, skips = walk(root)
    assert set(entries) == {".gitignore", "a/.gitignore", "a/b/.gitignore", "a/keep.log", "a/b/keep.log",
                            "a/local.py", "a/b/ok.py"}
    assert skips == {"x.log": "ignored by .gitignore", "a/x.log": "ignored by .gitignore",
                     "a/b/local.py": "ignored by .gitignore", "a/scratch/": "ignored by .gitignore"}
    policy = IgnorePolicy(root)
    assert policy.ignored_by_rules("a/b/keep.log") is None
    (root / "a" / "b" / ".gitignore").write_text("local.py\nkeep.log\n")
    assert policy.ignored_by_rules("a/b/keep.log") is None  # cached until told
    policy.invalidate("a/b/.gitignore")
    assert policy.ignored_by_rules("a/b/keep.log") == "ignored by .gitignore"


def test_generated_markers_are_found_in_any_case_within_the_first_kb(tmp_path: Path) -> None:
    policy = IgnorePolicy(tmp_path)
    for head in [b"// Code generated by protoc. DO NOT EDIT.\n", b"# @Generated\n", b"/* AUTOGENERATED FILE */\n",
                 b"-- autogenerated by x\n", b"// do not edit\n"]:  # fmt: skip
        assert policy.check_content("a.go", head + b"package a\n") == "generated file"
    for text in [b"// generated ids\n", b"// autogenerated_by\n", b"x" * 1024 + b"// Code generated by x\n"]:
        assert policy.check_content("a.go", text + b"package a\n") is None
