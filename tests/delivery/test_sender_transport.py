"""The requests transport: prepared once per URL, still honouring the proxy environment."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from posthog_web.delivery import RequestsTransport, TransportError
from posthog_web.inbox import InboxServer


@pytest.fixture
def proxy() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    """A local HTTP server standing in for a forward proxy: it records request targets."""
    seen: list[tuple[str, bytes]] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append((self.path, body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_an_http_proxy_from_the_environment_carries_the_post(
    monkeypatch: pytest.MonkeyPatch, proxy: tuple[str, list[tuple[str, bytes]]]
) -> None:
    url, seen = proxy
    monkeypatch.setenv("HTTP_PROXY", url)
    monkeypatch.setenv("NO_PROXY", "")
    transport = RequestsTransport()
    try:
        answer = transport.send("http://posthog.invalid/batch/", b"{}", {}, 5.0)
    finally:
        transport.close()
    assert answer.status == 200
    assert seen == [("http://posthog.invalid/batch/", b"{}")]


def test_no_proxy_bypasses_it(
    monkeypatch: pytest.MonkeyPatch,
    proxy: tuple[str, list[tuple[str, bytes]]],
    inbox: InboxServer,
) -> None:
    url, seen = proxy
    monkeypatch.setenv("HTTP_PROXY", url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    transport = RequestsTransport()
    body = b'{"api_key":"phc_test","batch":[{"event":"e","distinct_id":"u1","properties":{}}]}'
    try:
        assert transport.send(f"{inbox.url}/batch/", body, {}, 5.0).status == 200
    finally:
        transport.close()
    assert seen == []
    assert len(inbox.wait_for_events(1)) == 1


def test_each_post_carries_its_own_body_and_length_also_after_close(
    proxy: tuple[str, list[tuple[str, bytes]]],
) -> None:
    url, seen = proxy
    transport = RequestsTransport()
    headers = {"Content-Type": "application/json"}
    bodies = [b'{"a":1}', b'{"a":"longer body"}', b"[]"]
    try:
        for body in bodies[:2]:
            assert transport.send(f"{url}/batch/", body, headers, 5.0).status == 200
        transport.close()
        assert transport.send(f"{url}/batch/", bodies[2], headers, 5.0).status == 200
    finally:
        transport.close()
    assert [body for _, body in seen] == bodies


def test_no_answer_is_a_transport_error(unused_port: int) -> None:
    transport = RequestsTransport()
    with pytest.raises(TransportError, match="ConnectionError"):
        transport.send(f"http://127.0.0.1:{unused_port}/batch/", b"{}", {}, 2.0)
