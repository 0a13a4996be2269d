"""The server declares every custom name of docs/protocol.md once, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

from hearth.server.protocol import methods

ROOT = Path(__file__).resolve().parents[2]


def test_server_names_match_the_protocol_document() -> None:
    doc = (ROOT / "docs" / "protocol.md").read_text()
    spans = set(re.findall(r"`([^`\s]+)`", doc))
    documented = {s for s in spans if re.fullmatch(r"hearth(/[A-Za-z]+|\.[A-Za-z]+)", s)}
    declared = {v for k, v in vars(methods).items() if k.isupper() and isinstance(v, str)}
    assert declared == documented
    assert set(methods.ALL) == declared
