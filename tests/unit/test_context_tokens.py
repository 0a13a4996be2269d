"""The completion model's token counter used for the context budget (no model server, no database)."""

from __future__ import annotations

from hearth.indexer.types import Hit
from hearth.server.services.context import _fit_budget, model_token_counter


def test_counter_follows_the_calibrated_ratio_without_a_round_trip() -> None:
    ratio = [4.0]
    count = model_token_counter(lambda: ratio[0])
    assert count("x" * 400) == 101
    ratio[0] = 2.0  # recalibrated by /tokenize: applies to the next count
    assert count("x" * 400) == 201
    ratio[0] = 0.0  # not calibrated: the byte estimate
    assert count("x" * 400) > 0


def test_budget_keeps_the_best_items_that_fit() -> None:
    items = [Hit("a.py", 1, 2, 3.0, "definition", "a" * 100), Hit("b.py", 1, 2, 2.0, "fts", "b" * 1000),
             Hit("c.py", 1, 2, 1.0, "fts", "c" * 50)]
    fitted, dropped = _fit_budget(items, 200, len)
    assert [h.path for h in fitted] == ["a.py", "c.py"] and dropped == 1
    fitted, dropped = _fit_budget(items, 200, model_token_counter(lambda: 10.0))
    assert [h.path for h in fitted] == ["a.py", "b.py", "c.py"] and dropped == 0
