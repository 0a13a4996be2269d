"""Session settings every pooled connection of the store carries (each one was measured to matter)."""

from __future__ import annotations

from hearth.indexer.store.db import Store


def test_pooled_connections_plan_with_the_parameters_and_never_jit(store: Store) -> None:
    seen = []
    for _ in range(3):
        with store.conn() as c:
            # The statement runs more often than psycopg's prepare threshold: prepared, it must still be planned
            # with its values (a generic plan made full text 30-50x slower at 1M chunks).
            for _ in range(8):
                row = c.execute(
                    "SELECT current_setting('plan_cache_mode'), current_setting('jit'), %s::int", (1,)
                ).fetchone()
            seen.append(row[:2] if row else None)
    assert seen == [("force_custom_plan", "off")] * 3
