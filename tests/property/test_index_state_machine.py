"""A Hypothesis state machine: edits, creations, deletes, renames and branch switches, applied the
way the watcher applies them (``update_paths`` for paths, a full ``index`` on a branch switch), keep
the index equal to a full rebuild of the working tree: the same files with the same content hashes
and skip reasons, and for each content the same chunks and symbols as parsing it afresh.

Deterministic (``derandomize``) and small, so that it runs in well under 30 s. A branch switch is
``.git/HEAD`` rewritten, which is all the indexer reads of git.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from pathlib import Path

import psycopg
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from hearth.indexer.languages import LanguageRegistry
from hearth.indexer.parse import parse_source
from hearth.indexer.pipeline import Indexer, content_key
from hearth.indexer.store.db import Store
from hearth.indexer.walk import IgnorePolicy, WalkEntry

NAMES = ["a.py", "b.py", "pkg/c.py", "pkg/d.ts", "notes.md", ".env"]
BODIES = [
    "def alpha():\n    return 1\n",
    "def beta(x):\n    return alpha() + x\n\nclass Gamma:\n    def run(self):\n        return beta(2)\n",
    "export function delta(n: number): number {\n  return n * 2;\n}\n",
    "# Title\n\nSome words.\n\n## Part\n\nMore words.\n",
    "",
]
REGISTRY = LanguageRegistry.default()
COUNTER = itertools.count()


def full_rebuild(root: Path) -> dict[str, tuple[str | None, str]]:
    """What a fresh full run records: path -> (content hash, status)."""
    out: dict[str, tuple[str | None, str]] = {}
    policy = IgnorePolicy(root)
    for item in policy.walk():
        if isinstance(item, WalkEntry):
            data = item.abs_path.read_bytes()
            if policy.check_content(item.path, data):
                out[item.path] = (None, "skipped")
            else:
                out[item.path] = (content_key(data, REGISTRY.name_for_path(item.path)), "indexed")
        else:
            out[item.path] = (None, "skipped")
    return out


class IndexMachine(RuleBasedStateMachine):
    url: str = ""

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="hearth-sm-"))
        self.root = self.tmp / f"repo{next(COUNTER)}"
        (self.root / ".git").mkdir(parents=True)
        self.set_branch("main")
        self.store = Store(self.url, max_size=2).open()
        self.indexer = Indexer(self.store, REGISTRY, None, parse_workers=1)
        self.indexer.index(self.root, embed=False)

    def set_branch(self, name: str) -> None:
        (self.root / ".git" / "HEAD").write_text(f"ref: refs/heads/{name}\n")

    def apply(self, *paths: str) -> None:
        self.indexer.update_paths(self.root, list(paths), embed=False)

    @rule(name=st.sampled_from(NAMES), body=st.sampled_from(BODIES))
    def write(self, name: str, body: str) -> None:
        p = self.root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(body)
        self.apply(name)

    @rule(name=st.sampled_from(NAMES))
    def delete(self, name: str) -> None:
        (self.root / name).unlink(missing_ok=True)
        self.apply(name)

    @rule(src=st.sampled_from(NAMES), dest=st.sampled_from(NAMES))
    def rename(self, src: str, dest: str) -> None:
        s, d = self.root / src, self.root / dest
        if src == dest or not s.exists():
            return
        d.parent.mkdir(parents=True, exist_ok=True)
        s.rename(d)
        self.apply(src, dest)

    @rule()
    def move_directory(self) -> None:
        s, d = self.root / "pkg", self.root / "lib"
        if not s.exists() or d.exists():
            return
        s.rename(d)
        self.apply("pkg", "lib")

    @rule(branch=st.sampled_from(["main", "feature", "fix"]), body=st.sampled_from(BODIES))
    def switch_branch(self, branch: str, body: str) -> None:
        # A checkout changes files and HEAD; the watcher answers HEAD with a full run.
        (self.root / "a.py").write_text(body + f"# {branch}\n")
        self.set_branch(branch)
        self.indexer.index(self.root, embed=False)

    @invariant()
    def index_equals_a_full_rebuild(self) -> None:
        _, snap, _ = self.indexer.snapshot_for(self.root)
        got = {p: (s.content_hash, s.status) for p, s in self.store.file_states(snap).items()}
        assert got == full_rebuild(self.root)
        with psycopg.connect(self.url) as c:
            for path, (digest, status) in got.items():
                if status != "indexed":
                    continue
                row = c.execute(
                    "SELECT b.chunk_count, b.symbol_count, (SELECT count(*) FROM chunks ch WHERE"
                    " ch.repo_id = b.repo_id AND ch.content_hash = b.content_hash), (SELECT count(*) FROM"
                    " symbols s WHERE s.repo_id = b.repo_id AND s.content_hash = b.content_hash)"
                    " FROM blobs b JOIN repos r ON r.id = b.repo_id WHERE r.root = %s AND b.content_hash = %s",
                    (str(self.root.resolve()), digest),
                ).fetchone()
                fresh = parse_source(REGISTRY, path, (self.root / path).read_bytes())
                assert row == (len(fresh.chunks), len(fresh.symbols), len(fresh.chunks), len(fresh.symbols)), path

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def test_index_state_machine(db_url: str) -> None:
    IndexMachine.url = db_url
    IndexMachine.TestCase.settings = settings(
        max_examples=10,
        stateful_step_count=8,
        derandomize=True,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    IndexMachine.TestCase().runTest()
