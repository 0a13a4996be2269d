"""After `shutdown` the server stops writing log messages and error reports to a client that may be gone
(with the pipe closed, each failed report used to be reported again, nesting to the recursion limit)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from hearth.server.protocol.server import HearthLanguageServer, StderrToClientHandler


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> tuple[HearthLanguageServer, list[str]]:
    ls = HearthLanguageServer(app=None, version="test")  # type: ignore[arg-type]  # no app needed here
    sent: list[str] = []
    monkeypatch.setattr(ls, "window_log_message", lambda params: sent.append("log:" + params.message))
    monkeypatch.setattr(ls, "window_show_message", lambda params: sent.append("show:" + params.message))
    return ls, sent


def _record(msg: str) -> logging.LogRecord:
    return logging.LogRecord("hearth.test", logging.WARNING, __file__, 1, msg, None, None)


def test_warnings_reach_the_client_until_shutdown(server: tuple[HearthLanguageServer, list[str]]) -> None:
    ls, sent = server
    handler = StderrToClientHandler(ls)
    handler.emit(_record("index is behind"))
    assert sent == ["log:index is behind"]
    ls.quiet = True  # what the shutdown handler sets
    handler.emit(_record("pool closed"))
    assert sent == ["log:index is behind"]


def test_error_reports_stop_at_shutdown(server: tuple[HearthLanguageServer, list[str]]) -> None:
    ls, sent = server
    error: Any = ValueError("I/O operation on closed file")
    ls.quiet = True
    ls.report_server_error(error, None)
    assert sent == []
