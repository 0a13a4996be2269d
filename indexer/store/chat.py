"""Chat conversations per repository (mixed into ``Store``).

A conversation belongs to one repository (or to none, outside every workspace folder); its
messages are kept in order with the sources each answer was grounded on.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg


@dataclass(frozen=True, slots=True)
class ConversationRow:
    id: str
    title: str
    updated: datetime


@dataclass(frozen=True, slots=True)
class MessageRow:
    role: str  # user | assistant
    content: str
    sources: list[dict[str, Any]]


class ChatQueries:
    def conn(self) -> AbstractContextManager[psycopg.Connection[Any]]:
        raise NotImplementedError

    def ensure_conversation(self, conversation_id: str, repo_id: int | None, title: str) -> bool:
        """Create the conversation if it does not exist; True when it was created."""
        with self.conn() as c:
            row = c.execute(
                "INSERT INTO conversations (id, repo_id, title) VALUES (%s, %s, %s) ON CONFLICT (id) DO NOTHING"
                " RETURNING 1",
                (conversation_id, repo_id, title[:200]),
            ).fetchone()
            c.commit()
            return row is not None

    def conversation_repo(self, conversation_id: str) -> tuple[bool, int | None]:
        """(exists, repo_id) of a conversation."""
        with self.conn() as c:
            row = c.execute("SELECT repo_id FROM conversations WHERE id = %s", (conversation_id,)).fetchone()
            return (row is not None, (int(row[0]) if row and row[0] is not None else None))

    def add_message(
        self, conversation_id: str, role: str, content: str, sources: list[dict[str, Any]] | None = None
    ) -> None:
        with self.conn() as c:
            c.execute(
                "INSERT INTO messages (conversation_id, role, content, sources) VALUES (%s, %s, %s, %s)",
                (conversation_id, role, content, json.dumps(sources or [])),
            )
            c.execute("UPDATE conversations SET updated_at = now() WHERE id = %s", (conversation_id,))
            c.commit()

    def messages(self, conversation_id: str, limit: int = 200) -> list[MessageRow]:
        """The latest ``limit`` messages of a conversation, oldest first."""
        with self.conn() as c:
            rows = c.execute(
                "SELECT role, content, sources FROM (SELECT id, role, content, sources FROM messages"
                " WHERE conversation_id = %s ORDER BY id DESC LIMIT %s) m ORDER BY id",
                (conversation_id, limit),
            ).fetchall()
            return [MessageRow(r[0], r[1], list(r[2] or [])) for r in rows]

    def conversations(
        self, repo_ids: list[int], include_unscoped: bool = True, limit: int = 100
    ) -> list[ConversationRow]:
        """Conversations of these repositories (and those without one), newest first."""
        with self.conn() as c:
            rows = c.execute(
                "SELECT id, title, updated_at FROM conversations WHERE repo_id = ANY(%s)"
                " OR (%s AND repo_id IS NULL) ORDER BY updated_at DESC, id LIMIT %s",
                (repo_ids, include_unscoped, limit),
            ).fetchall()
            return [ConversationRow(r[0], r[1], r[2]) for r in rows]
