"""Loopback HTTP servers that answer boto3's ``bedrock``, ``bedrock-runtime`` and ``service-quotas`` clients.

Handlers reach the emulator only through standard configuration: the harness points ``AWS_ENDPOINT_URL_BEDROCK``,
``AWS_ENDPOINT_URL_BEDROCK_RUNTIME`` and ``AWS_ENDPOINT_URL_SERVICE_QUOTAS`` at these servers (moto 5.2.5's
service-quotas knows only the ``vpc`` service code, so the emulator answers the Bedrock quotas itself). moto's
``mock_aws`` leaves such requests alone: its botocore stubber only answers URLs that match a moto backend's
``*.amazonaws.com`` patterns (``moto.core.botocore_stubber.BotocoreStubber.process_request``), so a request to
``http://127.0.0.1:<port>`` is sent over the socket and reaches this server. The servers bind 127.0.0.1 only.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tuner.local.bedrock.protocol import Service, ServiceError, ShapeMismatch, service_for

LOG = logging.getLogger(__name__)

Dispatch = Callable[[str, str, dict[str, Any]], dict[str, Any]]  # (service, operation, params) -> output


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, service: Service, dispatch: Dispatch) -> None:
        self.service = service
        self.dispatch = dispatch
        self.failures: list[str] = []  # emulator bugs (shape mismatches, crashes), surfaced by the harness
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    server: _Server

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        service = self.server.service
        try:
            operation, params = service.parse_request(self.command, self.path, body, dict(self.headers.items()))
            output = self.server.dispatch(service.model.service_name, operation, params)
            status, headers, payload = service.serialize(operation, output)
        except ServiceError as error:
            status, headers, payload = service.error(error)
        except ShapeMismatch as mismatch:
            self.server.failures.append(str(mismatch))
            status, headers, payload = service.error(ServiceError("InternalServerException", str(mismatch), 500))
        except Exception as crash:  # an emulator bug: answer 500 and record it, never hang the client
            LOG.exception("emulator crashed on %s %s", self.command, self.path)
            self.server.failures.append(f"{self.command} {self.path}: {type(crash).__name__}: {crash}")
            message = f"emulator error: {type(crash).__name__}: {crash}"
            status, headers, payload = service.error(ServiceError("InternalServerException", message, 500))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-amzn-RequestId", "00000000-0000-4000-8000-emulated0000")
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer

    def log_message(self, format: str, *args: Any) -> None:
        LOG.debug("%s " + format, self.address_string(), *args)


class EmulatorServers:
    """Every emulated endpoint, started on free loopback ports and stopped together."""

    SERVICES = ("bedrock", "bedrock-runtime", "service-quotas")

    def __init__(self, dispatch: Dispatch) -> None:
        self._servers = {name: _Server(service_for(name), dispatch) for name in self.SERVICES}
        self._threads: list[threading.Thread] = []

    def endpoint(self, service: str) -> str:
        host, port = self._servers[service].server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def environment(self) -> dict[str, str]:
        # botocore's variable: AWS_ENDPOINT_URL_ + the service id, upper-cased, spaces and dashes as underscores
        return {f"AWS_ENDPOINT_URL_{name.upper().replace('-', '_')}": self.endpoint(name) for name in self.SERVICES}

    @property
    def failures(self) -> list[str]:
        return [failure for server in self._servers.values() for failure in server.failures]

    def start(self) -> EmulatorServers:
        for name, server in self._servers.items():
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"emulator-{name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> EmulatorServers:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
