"""The adaptive debounce of completion requests (typing rhythm and model speed)."""

from __future__ import annotations

from hearth.server.services.completion import adaptive_debounce_s


def test_adaptive_debounce() -> None:
    assert adaptive_debounce_s(0, 0.1, 0.05) == 0.0  # off
    assert adaptive_debounce_s(75, None) == 0.075  # no rhythm yet
    assert adaptive_debounce_s(75, 0.125, None) == 0.075  # model speed not known yet
    assert adaptive_debounce_s(75, 0.6, 0.05) == 0.075  # slow typing
    # 8 characters/s and a model answering in 60 ms: ask early enough to answer before the next key
    assert abs(adaptive_debounce_s(75, 0.125, 0.06) - 0.045) < 1e-9
    # a model slower than the keystrokes: wait for a pause, a little longer than the interval
    assert abs(adaptive_debounce_s(75, 0.125, 0.3) - 0.15) < 1e-9
    assert adaptive_debounce_s(75, 0.3, 0.5) == 0.25
