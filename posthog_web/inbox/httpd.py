"""The inbox's socket layer: an HTTPServer with a daemon thread per connection, an instant
stop, and a lingering close."""

from __future__ import annotations

import functools
import logging
import selectors
import socket
import socketserver
import threading
import time
from http.server import HTTPServer
from typing import Any

from posthog_web.inbox.handler import InboxRequestHandler
from posthog_web.inbox.state import InboxState

logger = logging.getLogger(__name__)

_LINGER_SECONDS = 0.5
_MAX_LINGER_BYTES = 1 << 20


class InboxHTTPServer(HTTPServer):
    """An HTTPServer that runs a daemon thread per connection and can close them all."""

    def __init__(self, address: tuple[str, int], inbox: InboxState) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.inbox = inbox
        self._active: dict[threading.Thread, Any] = {}
        self._active_lock = threading.Lock()
        # serve() waits on the listening socket and on this pair, so stop() is instant.
        self._wake_reader, self._wake_writer = socket.socketpair()
        try:
            super().__init__(address, functools.partial(InboxRequestHandler, inbox=inbox))
        except BaseException:
            self._close_wake_pair()
            raise

    def serve(self, stopping: threading.Event) -> None:
        """Accept connections until ``stopping`` is set and wake() is called."""
        with selectors.DefaultSelector() as selector:
            selector.register(self.socket, selectors.EVENT_READ)
            selector.register(self._wake_reader, selectors.EVENT_READ)
            while not stopping.is_set():
                ready = selector.select()
                if stopping.is_set() or any(k.fileobj is self._wake_reader for k, _ in ready):
                    return
                try:
                    request, client_address = self.get_request()
                except OSError:
                    continue
                self.process_request(request, client_address)

    def wake(self) -> None:
        """Make serve() return (after ``stopping`` was set)."""
        try:
            self._wake_writer.send(b"x")
        except OSError:
            pass

    def server_close(self) -> None:
        super().server_close()
        self._close_wake_pair()

    def _close_wake_pair(self) -> None:
        self._wake_reader.close()
        self._wake_writer.close()

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn), which can be slow.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address),
            name="posthog-web-inbox-connection",
            daemon=True,
        )
        with self._active_lock:
            self._active[thread] = request
        try:
            thread.start()
        except RuntimeError:
            with self._active_lock:
                self._active.pop(thread, None)
            self.shutdown_request(request)

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            with self._active_lock:
                self._active.pop(threading.current_thread(), None)

    def shutdown_request(self, request: Any) -> None:
        # A lingering close: send FIN, then read what the client still sends, so closing with
        # unread input does not turn into a TCP reset that destroys the response in flight.
        try:
            request.shutdown(socket.SHUT_WR)
            request.settimeout(_LINGER_SECONDS)
            drained = 0
            while drained < _MAX_LINGER_BYTES:
                chunk = request.recv(1 << 16)
                if not chunk:
                    break
                drained += len(chunk)
        except OSError:
            pass
        self.close_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("inbox: connection from %s failed", client_address, exc_info=True)

    def close_connections(self, timeout: float) -> None:
        """Shut down every open connection (waking blocked reads), then wait for the threads."""
        with self._active_lock:
            active = dict(self._active)
        for sock in active.values():
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        for thread in active:
            thread.join(max(0.0, deadline - time.monotonic()))
