"""Real repositories for the retrieval benchmark, fetched from the package registries.

Each corpus is a source tree unpacked from a package: PyPI sdists (``pip download --no-binary``),
Debian source packages of Rust crates and Go modules (``apt-get download`` + ``dpkg -x``) and npm
tarballs (``npm pack``). Everything lands under the cache directory (``bench/retrieval/.cache``
by default, ignored by git); a corpus already unpacked is reused.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache"


@dataclass(frozen=True)
class Corpus:
    name: str
    language: str  # the language the cases are drawn from
    registry: str  # pypi, debian, npm
    package: str  # what the registry client is asked for
    subdir: str  # the source tree inside the unpacked package ("*" matches one version directory)


CORPORA = [
    Corpus("click", "python", "pypi", "click", "click-*"),
    Corpus("rich", "python", "pypi", "rich", "rich-*"),
    Corpus("attrs", "python", "pypi", "attrs", "attrs-*"),
    Corpus("starlette", "python", "pypi", "starlette", "starlette-*"),
    Corpus("regex", "rust", "debian", "librust-regex-dev", "usr/share/cargo/registry/regex-*"),
    Corpus("clap", "rust", "debian", "librust-clap-dev", "usr/share/cargo/registry/clap-*"),
    Corpus("cobra", "go", "debian", "golang-github-spf13-cobra-dev", "usr/share/gocode/src/github.com/spf13/cobra"),
    Corpus("pflag", "go", "debian", "golang-github-spf13-pflag-dev", "usr/share/gocode/src/github.com/spf13/pflag"),
    Corpus("rxjs", "typescript", "npm", "rxjs@7", "package/src"),
    Corpus("zod", "typescript", "npm", "zod@3", "package/src"),
]


def _run(cmd: list[str], cwd: Path) -> None:
    sys.stderr.write(f"$ {' '.join(cmd)}\n")
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _one(pattern: Path) -> Path:
    matches = sorted(pattern.parent.glob(pattern.name))
    if not matches:
        raise FileNotFoundError(pattern)
    return matches[-1]


def fetch(corpus: Corpus, cache: Path = CACHE) -> Path:
    """The corpus's source tree, downloading and unpacking it on first use."""
    base = cache / corpus.name
    done = base / ".unpacked"
    if done.exists():
        return _one(base / "tree" / corpus.subdir) if "*" in corpus.subdir else base / "tree" / corpus.subdir
    shutil.rmtree(base, ignore_errors=True)
    dl = base / "download"
    tree = base / "tree"
    dl.mkdir(parents=True)
    tree.mkdir()
    if corpus.registry == "pypi":
        _run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-d", str(dl),
              corpus.package], dl)
        with tarfile.open(_one(dl / "*.tar.gz")) as tf:
            tf.extractall(tree, filter="data")
    elif corpus.registry == "debian":
        _run(["apt-get", "download", corpus.package], dl)
        _run(["dpkg", "-x", str(_one(dl / "*.deb")), str(tree)], dl)
    elif corpus.registry == "npm":
        _run(["npm", "pack", corpus.package], dl)
        with tarfile.open(_one(dl / "*.tgz")) as tf:
            tf.extractall(tree, filter="data")
    else:
        raise ValueError(corpus.registry)
    done.touch()
    return fetch(corpus, cache)


if __name__ == "__main__":
    for c in CORPORA:
        print(c.name, fetch(c))
