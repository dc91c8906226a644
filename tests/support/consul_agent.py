"""A Consul agent's HTTP API as documented (agent service register/deregister, health service).

No Consul binary can be installed on these machines (docs/decisions/003-consul-contract-tests.md), so
the discovery code is tested at the HTTP boundary: py-consul speaks real HTTP to this server, which
checks each request against Consul's documented shapes and answers as Consul does.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

REQUIRED_REGISTER_KEYS = {"Name", "ID", "Address", "Port"}
REQUIRED_HTTP_CHECK_KEYS = {"HTTP", "Interval"}
# Consul decodes JSON with Go's encoding/json, which matches keys case-insensitively.
CANONICAL_KEYS = {
    key.lower(): key
    for key in (
        "Name",
        "ID",
        "Address",
        "Port",
        "Tags",
        "Meta",
        "Check",
        "Checks",
        "HTTP",
        "Interval",
        "Timeout",
        "DeregisterCriticalServiceAfter",
        "Header",
        "Weights",
        "EnableTagOverride",
    )
}


def canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {CANONICAL_KEYS.get(k.lower(), k): canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value


class ConsulAgent:
    def __init__(self) -> None:
        self.services: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, Any]] = []
        self.problems: list[str] = []
        agent = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return None

            def reply(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-Consul-Index", "1")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def read_body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().strip().split(b";")[0], 16)
                        if size == 0:
                            self.rfile.readline()
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def do_PUT(self) -> None:  # noqa: N802
                raw = self.read_body()
                body = canonical(json.loads(raw)) if raw else None
                path = urlsplit(self.path).path
                agent.requests.append(("PUT", path, body))
                if path == "/v1/agent/service/register":
                    missing = REQUIRED_REGISTER_KEYS - set(body or {})
                    checks = (body or {}).get("Checks") or [(body or {}).get("Check") or {}]
                    for check in checks:
                        missing |= REQUIRED_HTTP_CHECK_KEYS - set(check)
                    if missing:
                        agent.problems.append(f"register without {sorted(missing)}")
                        self.reply(400, f"Invalid service: missing {sorted(missing)}")
                        return
                    agent.services[body["ID"]] = body
                    self.reply(200, None)
                elif path.startswith("/v1/agent/service/deregister/"):
                    service_id = path.rsplit("/", 1)[1]
                    if service_id not in agent.services:
                        self.reply(404, f'Unknown service ID "{service_id}"')
                        return
                    del agent.services[service_id]
                    self.reply(200, None)
                else:
                    self.reply(404, "no such endpoint")

            def do_GET(self) -> None:  # noqa: N802
                parts = urlsplit(self.path)
                agent.requests.append(("GET", parts.path, parse_qs(parts.query)))
                if parts.path.startswith("/v1/health/service/"):
                    name = parts.path.rsplit("/", 1)[1]
                    entries = [
                        {
                            "Node": {"Node": "node-1", "Address": "10.0.0.1"},
                            "Service": {
                                "ID": s["ID"],
                                "Service": s["Name"],
                                "Tags": s.get("Tags") or [],
                                "Address": s["Address"],
                                "Port": s["Port"],
                            },
                            "Checks": [{"Status": "passing", "ServiceID": s["ID"]}],
                        }
                        for s in agent.services.values()
                        if s["Name"] == name
                    ]
                    self.reply(200, entries)
                else:
                    self.reply(404, "no such endpoint")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> ConsulAgent:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
