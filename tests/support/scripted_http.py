"""A loopback HTTP server that answers from a script, for what a real docker-registry cannot be
made to do (redirects to another host, slow or hostile answers, injected text)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# answer(method, path, request headers (an email.message.Message: .get is case-blind))
#   -> (status, response headers, body)
Answer = Callable[[str, str, Message], tuple[int, dict[str, str], bytes]]


@contextmanager
def scripted_server(answer: Answer, host: str = "127.0.0.1") -> Iterator[tuple[str, list[tuple[str, str, dict]]]]:
    """Serve `answer` on `host`:<free port>. Yields (host:port, requests), where requests records
    (method, path, headers) of every request in order."""
    requests: list[tuple[str, str, dict]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output clean
            pass

        def _handle(self):
            requests.append((self.command, self.path, dict(self.headers)))
            status, headers, body = answer(self.command, self.path, self.headers)
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

        do_GET = do_HEAD = _handle

    server = ThreadingHTTPServer((host, 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"{host}:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
