"""`hearth serve` at the byte level: stdout carries only JSON-RPC frames; bad input gets errors."""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.conftest import hearth_command


def frame(obj: dict[str, Any]) -> bytes:
    body = json.dumps(obj).encode()
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


def _complete(data: bytes) -> bool:
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    headers = dict(line.split(b": ", 1) for line in head.split(b"\r\n"))
    return len(rest) >= int(headers[b"Content-Length"])


def read_frames(data: bytes) -> list[dict[str, Any]]:
    frames = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        assert sep, f"stray bytes on stdout: {data[:200]!r}"
        headers = dict(line.split(b": ", 1) for line in head.split(b"\r\n"))
        n = int(headers[b"Content-Length"])
        frames.append(json.loads(rest[:n]))
        data = rest[n:]
    return frames


def _read_until_response(proc: subprocess.Popen[bytes], msg_id: int, timeout_s: float) -> bytes:
    """Everything the server writes until its response to ``msg_id`` is complete."""
    assert proc.stdout is not None
    data = b""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 65536)
            assert chunk, "the server closed stdout before answering"
            data += chunk
            done, rest = [], data
            while rest and _complete(rest):
                head, _, body = rest.partition(b"\r\n\r\n")
                n = int(dict(h.split(b": ", 1) for h in head.split(b"\r\n"))[b"Content-Length"])
                done.append(json.loads(body[:n]))
                rest = body[n:]
            if any(f.get("id") == msg_id and "method" not in f for f in done):
                return data
    raise AssertionError(f"no response to request {msg_id} within {timeout_s} s")


def test_stdout_is_only_json_rpc_and_bad_requests_get_errors(hearth_env: dict[str, str], tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "a.py").write_text("def f():\n    return 1\n")
    msgs = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize",
         "params": {"processId": None, "rootUri": root.as_uri(), "capabilities": {}}},
        {"jsonrpc": "2.0", "method": "initialized", "params": {}},
        # Malformed params: no textDocument.
        {"jsonrpc": "2.0", "id": 2, "method": "textDocument/inlineCompletion", "params": {"position": 3}},
        {"jsonrpc": "2.0", "id": 3, "method": "hearth/noSuchMethod", "params": {}},
        {"jsonrpc": "2.0", "id": 4, "method": "workspace/executeCommand",
         "params": {"command": "hearth.status", "arguments": []}},
        {"jsonrpc": "2.0", "id": 5, "method": "shutdown"},
        {"jsonrpc": "2.0", "method": "exit"},
    ]
    proc = subprocess.Popen(hearth_command(), env=hearth_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdin is not None
    proc.stdin.write(frame(msgs[0]) + frame(msgs[1]))
    proc.stdin.flush()
    time.sleep(0.5)  # let the background start-up run while requests arrive
    for m in msgs[2:-1]:
        proc.stdin.write(frame(m))
        proc.stdin.flush()
    # As editors do (vscode-languageclient, Neovim), `exit` goes out once `shutdown` has been answered.
    early = _read_until_response(proc, 5, timeout_s=60)
    proc.stdin.write(frame(msgs[-1]))
    proc.stdin.flush()
    out, err = proc.communicate(timeout=60)
    frames = read_frames(early + out)  # fails on any byte that is not a JSON-RPC frame
    responses = {f["id"]: f for f in frames if "id" in f and "method" not in f}
    assert "capabilities" in responses[1]["result"]
    assert responses[2]["error"]["code"] == -32602  # malformed params: an error response, not silence
    assert responses[3]["error"]["code"] == -32601  # method not found
    assert responses[4]["result"]["health"] in ("ok", "warning", "error")
    assert responses[5]["result"] is None
    assert proc.returncode == 0, err.decode()[-2000:]


def test_tcp_binds_loopback(hearth_env: dict[str, str], tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([*hearth_command(), "--tcp", f":{port}"], env=hearth_env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        conn = None
        while conn is None and time.monotonic() < deadline:
            try:
                conn = socket.create_connection(("127.0.0.1", port), timeout=1)
            except OSError:
                time.sleep(0.05)
        assert conn is not None, "hearth serve --tcp did not listen"
        with conn:
            conn.sendall(frame({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                                "params": {"processId": None, "rootUri": None, "capabilities": {}}}))
            conn.settimeout(30)
            data = b""
            while not _complete(data):
                chunk = conn.recv(65536)
                assert chunk, "connection closed"
                data += chunk
            assert read_frames(data)[0]["result"]["serverInfo"]["name"] == "hearth"
            # Only loopback: the listening socket is bound to 127.0.0.1, not to every address.
            listening = Path("/proc/net/tcp").read_text().split("\n")[1:]
            local = [ln.split()[1] for ln in listening if ln.strip() and ln.split()[3] == "0A"]
            assert f"0100007F:{port:04X}" in local
            assert f"00000000:{port:04X}" not in local
    finally:
        proc.kill()
        proc.wait(timeout=10)
