"""A real HTTP receiver of revocation events on loopback, for the events tests.

A threaded ``http.server`` that verifies what it gets as a receiver would (Standard Webhooks
signature, SET or logout-token signature), answers with planned faults (a status, a stall
past the client's timeout, a dropped connection), and runs an idempotency check: each event
id is processed once, however often it arrives.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    def __init__(self, port: int = 0) -> None:
        self.received: list[dict[str, Any]] = []  # every request, accepted or not
        self.processed: list[str] = []  # event ids, once each, in the order processed
        self.plan: list[Any] = []  # next answers: an int status, "stall" or "drop"; then 200
        self.key: Callable[[dict[str, Any]], str] = lambda request: request["headers"].get("webhook-id", "")
        self.verify: Callable[[dict[str, Any]], Any] | None = None
        self.stall_seconds = 2.0
        self.delay = 0.0  # seconds each request takes (to make workers overlap)
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = port
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/events"

    def start(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = {"path": self.path, "headers": dict(self.headers.items()), "body": body}
                request["headers"] = {name.lower(): value for name, value in request["headers"].items()}
                with owner.lock:
                    owner.received.append(request)
                    answer = owner.plan.pop(0) if owner.plan else 202
                if owner.delay:
                    time.sleep(owner.delay)
                if answer == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if answer == "stall":
                    time.sleep(owner.stall_seconds)
                    answer = 202
                elif isinstance(answer, int) and answer >= 300:
                    self._answer(answer)
                    return
                if owner.verify is not None:
                    try:
                        request["verified"] = owner.verify(request)
                    except Exception as error:  # a bad signature: refused, as a receiver would
                        request["error"] = repr(error)
                        self._answer(401)
                        return
                with owner.lock:
                    key = owner.key(request)
                    if key not in owner.processed:  # the idempotency check
                        owner.processed.append(key)
                self._answer(answer)

            def _answer(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Down: the port refuses connections until ``start()``."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
