"""Code actions, explain/refactor commands and chat (issue 6): registered by ``register_actions``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hearth.server.protocol.server import HearthLanguageServer


def register_actions(server: HearthLanguageServer) -> None:
    """Register the code-action, command and chat handlers on ``server``."""
    return None
