"""The optional HTTP endpoint (`[ops] listen = "127.0.0.1:9108"`): `/healthz` (JSON; 200 when not critical,
503 when critical) and `/metrics` (Prometheus). A thread in `ingestd run`; loopback by default."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from loguru import logger

from ingestd.ops.health import CRITICAL, collect, prometheus


def serve(app: Any, listen: str) -> ThreadingHTTPServer:
    host, _, port = listen.rpartition(":")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path not in ("/healthz", "/metrics"):
                self._reply(404, "text/plain", b"not found: /healthz, /metrics\n")
                return
            health = collect(app)
            if path == "/healthz":
                body = json.dumps(health.as_dict(), ensure_ascii=False).encode()
                self._reply(503 if health.status == CRITICAL else 200, "application/json", body)
            else:
                self._reply(200, "text/plain; version=0.0.4", prometheus(health).encode())

        def _reply(self, code: int, content_type: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # scrapes every few seconds: not worth a log line each

    server = ThreadingHTTPServer((host or "127.0.0.1", int(port)), Handler)
    threading.Thread(target=server.serve_forever, name="ops-http", daemon=True).start()
    logger.bind(source="ops").info("health and metrics on http://{}:{}/healthz, /metrics", *server.server_address[:2])
    return server
