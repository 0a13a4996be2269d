"""Chat conversations per repository (mixed into ``Store``)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import psycopg


class ChatQueries:
    def conn(self) -> AbstractContextManager[psycopg.Connection[Any]]:
        raise NotImplementedError
