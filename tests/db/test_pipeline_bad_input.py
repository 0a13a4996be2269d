"""The pipeline on bad input, against the real database: every file is indexed or recorded as
skipped with its reason, and nothing else in the batch is lost.

Tests run as root, which reads any file whatever its mode; a read that fails is made by patching
``Path.read_bytes`` for one path (the pipeline's own handling of the error is what is tested).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hearth.indexer.languages import LanguageRegistry
from hearth.indexer.lexical import lexeme_text, tsvector_literal
from hearth.indexer.pipeline import Indexer, Progress
from hearth.indexer.store.db import Store


def make_bad_repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (tmp_path / "outside.py").write_text("def outside_function():\n    pass\n")
    (root / "ok.py").write_text("def ok_function():\n    pass\n")
    (root / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    (root / "blob.py").write_bytes(b"\x00\x01\x02" * 100)
    with open(root / "huge.py", "wb") as f:
        f.truncate(50 * 1024 * 1024)
    (root / "latin1.py").write_bytes("def latin_function():\n    return 'caf\xe9'\n".encode("latin-1"))
    (root / "late_nul.py").write_bytes(b"def late_nul_function():\n    pass\n" + b"# pad\n" * 2000 + b"x = '\x00'\n")
    (root / "crlf.py").write_bytes(b"import os\r\n\r\ndef crlf_function():\r\n    return os.sep\r\n")
    (root / "loop").symlink_to(root)
    (root / "a.py").symlink_to(root / "b.py")
    (root / "b.py").symlink_to(root / "a.py")
    (root / "escape.py").symlink_to(tmp_path / "outside.py")
    os.mkfifo(root / "pipe.py")
    (root / "with space.py").write_text("def spaced_function():\n    pass\n")
    (root / "new\nline.py").write_text("def newline_function():\n    pass\n")
    (root / "naïve_日本.py").write_text("def unicode_path_function():\n    pass\n")
    (root / "unreadable.py").write_text("def unreadable_function():\n    pass\n")
    (root / "vanishing.py").write_text("def vanishing_function():\n    pass\n")
    return root


def test_every_bad_input_is_indexed_or_skipped_with_a_reason(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_bad_repo(tmp_path)
    real_read = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == "unreadable.py":
            raise PermissionError(13, "Permission denied")
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)

    def progress(p: Progress) -> None:
        # After the walk, before any file is read: a file disappears mid-run.
        if p.phase == "parse" and p.done == 0:
            (root / "vanishing.py").unlink(missing_ok=True)

    indexer = Indexer(store, LanguageRegistry.default(), None, parse_workers=1)
    summary = indexer.index(root, embed=False, progress=progress)
    repo_id, snap, _ = indexer.snapshot_for(root)
    states = store.file_states(snap)
    skipped = dict(store.skipped_files(snap))
    indexed = {p for p, s in states.items() if s.status == "indexed"}
    assert skipped["image.png"] == "binary file type"
    assert skipped["blob.py"] == "binary content"
    assert skipped["huge.py"] == "larger than 1024 KB"
    assert skipped["escape.py"] == "symlink leaves the workspace"
    assert skipped["pipe.py"] == "not a regular file (fifo, socket or device)"
    assert skipped["a.py"].startswith("symlink loop") and skipped["b.py"].startswith("symlink loop")
    assert skipped["unreadable.py"] == "unreadable: Permission denied"
    assert "vanishing.py" not in states  # deleted while indexing: gone, not an error
    assert indexed == {"ok.py", "latin1.py", "late_nul.py", "crlf.py", "with space.py", "new\nline.py", "naïve_日本.py"}
    assert summary.files_indexed == len(indexed)
    for name, path in [
        ("ok_function", "ok.py"),
        ("latin_function", "latin1.py"),
        ("late_nul_function", "late_nul.py"),
        ("spaced_function", "with space.py"),
        ("newline_function", "new\nline.py"),
        ("unicode_path_function", "naïve_日本.py"),
    ]:
        assert [d.path for d, _ in store.definitions(repo_id, snap, [name])] == [path], name
    ((crlf, hit),) = store.definitions(repo_id, snap, ["crlf_function"])
    assert crlf.line == 3 and hit.start_line <= 3 <= hit.end_line == 4
    assert "\r" not in crlf.name


def test_a_file_deleted_after_indexing_leaves_with_the_next_update(tmp_path: Path, store: Store) -> None:
    root = make_bad_repo(tmp_path)
    indexer = Indexer(store, LanguageRegistry.default(), None, parse_workers=1)
    indexer.index(root, embed=False)
    (root / "ok.py").unlink()
    (root / "naïve_日本.py").rename(root / "renamed with space.py")
    stats = indexer.update_paths(root, ["ok.py", "naïve_日本.py", "renamed with space.py", "pipe.py"], embed=False)
    _, snap, _ = indexer.snapshot_for(root)
    states = store.file_states(snap)
    assert "ok.py" not in states and "naïve_日本.py" not in states
    assert states["renamed with space.py"].status == "indexed"
    assert states["pipe.py"].status == "skipped"
    assert stats["deleted"] == 2


def test_the_largest_full_text_vector_a_worker_builds_is_one_postgresql_accepts(store: Store) -> None:
    # Identifiers of 4-byte letters just under PostgreSQL's lexeme limit, more than the worker keeps: the body's
    # and the names' lexemes are cut to what a tsvector holds (1 MB), not rejected with the whole batch.
    def ident(i: int) -> str:
        return "\U0001d465" * 500 + chr(0x4E00 + i)  # 2,003 bytes of UTF-8

    body = lexeme_text(" ".join(ident(i) for i in range(1000)))
    names = lexeme_text(" ".join(ident(i) for i in range(1000, 2000)))
    literal = tsvector_literal(names, body)
    assert len(literal.encode()) > 900_000
    with store.conn() as c:
        row = c.execute("SELECT length(%s::tsvector)", (literal,)).fetchone()
    kept = {w.removesuffix(":1A") for w in literal.split()}
    assert row is not None and row[0] == len(kept) > 400


def test_a_search_for_a_word_too_long_to_be_a_lexeme_finds_the_rest(store: Store, tmp_path: Path) -> None:
    repo_dir = tmp_path / "long"
    repo_dir.mkdir()
    (repo_dir / "a.py").write_text("def shipping_rate(zone):\n    return zone\n")
    indexer = Indexer(store, LanguageRegistry.default(), None)
    indexer.index(repo_dir, embed=False)
    rid, snap, _ = indexer.snapshot_for(repo_dir)
    hits = store.search_fts(rid, snap, ["q" * 3000, "shipping"], 5)
    assert [h.path for h in hits] == ["a.py"]
