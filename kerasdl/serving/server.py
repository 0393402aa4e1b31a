"""`kerasdl serve`: TF Serving's REST API over the SavedModels in a folder.

    GET  /v1/models/NAME[/versions/N]            the version's status
    GET  /v1/models/NAME[/versions/N]/metadata   its signatures
    POST /v1/models/NAME[/versions/N]:predict    run a signature (rest.py's format)

Errors are TF Serving's: `{"error": "..."}` with 400 for a request the model cannot
run (or a request line that is not HTTP, or a body whose length is not one
Content-Length number), 404 for an unknown model, version, or path,
408 for a body that stops arriving, 413 for a body over the limit, 500 for a failure
inside the model. Every request gets an answer with an HTTP status line; a connection
idle for `timeout` seconds is closed, so a slow or broken client cannot hold a thread;
a client that hangs up early costs one debug line, not a traceback.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from kerasdl.serving.repository import ModelRepository, NotFound
from kerasdl.serving.rest import DEFAULT_SIGNATURE, BadRequest, metadata_body, parse_body, request_tensors, response_body

logger = logging.getLogger(__name__)

_PATH = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>[^/:]+))?"
                   r"(?:(?P<metadata>/metadata)|:(?P<verb>[a-z]+))?/?$")


@dataclass
class ServerOptions:
    """How `kerasdl serve` runs.

    Attributes:
        host: the address to listen on (0.0.0.0: every interface).
        port: TF Serving's REST port by default.
        poll_seconds: how often the folder is checked for new versions.
        max_body_bytes: the largest request accepted.
        timeout: seconds a connection may stay silent.
    """

    host: str = "127.0.0.1"
    port: int = 8501
    poll_seconds: float = 2.0
    max_body_bytes: int = 64 * 1024 * 1024
    timeout: float = 30.0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse their connection
    # Headers and body leave in two writes; with Nagle's algorithm on, the second waits
    # for the client's delayed ACK (40 ms on Linux) on every request.
    disable_nagle_algorithm = True
    server: "ModelServer"

    def setup(self) -> None:
        self.timeout = self.server.options.timeout
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        logger.debug("%s " + format, self.address_string(), *args)

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (ConnectionError, TimeoutError) as e:  # the client hung up or went silent
            logger.debug("%s: connection closed early (%s)", self.address_string(), type(e).__name__)
            self.close_connection = True

    def parse_request(self) -> bool:
        """http.server's parsing, then a refusal of more than one Content-Length: its
        `headers.get` reads the first, while a proxy in front may frame the body by
        another, and the bytes between become a request of their own (smuggling).
        RFC 9112 section 6.3 lets a server refuse even identical copies; this one does."""
        if not super().parse_request():
            return False
        lengths = self.headers.get_all("Content-Length") or []
        if len(lengths) > 1:
            self.send_error(400, f"More than one Content-Length header ({', '.join(map(str.strip, lengths))}); "
                                 "send exactly one")
            return False
        return True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's errors (a request line that is not HTTP, headers too long) as
        JSON, always after a status line: the base class answers a request it could not
        parse the HTTP/0.9 way, with a bare HTML body."""
        if self.request_version == "HTTP/0.9":
            self.request_version = self.protocol_version
        self.close_connection = True
        self._error(code, message or HTTPStatus(code).phrase)

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body, allow_nan=True).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str) -> None:
        self._send(status, {"error": message})

    def _route(self) -> tuple[str, int | None, str | None, bool] | None:
        match = _PATH.match(self.path.split("?", 1)[0])
        if not match:
            return None
        version = match.group("version")
        if version is not None and not version.isdigit():
            return None
        return (match.group("name"), int(version) if version else None, match.group("verb"),
                bool(match.group("metadata")))

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        route = self._route()
        if route is None or route[2] is not None:
            return self._error(404, f"Malformed request: GET {self.path}")
        name, version, _, metadata = route
        repository = self.server.repository
        try:
            if metadata:
                return self._send(200, metadata_body(repository.get(name, version)))
            return self._send(200, {"model_version_status": repository.status(name, version)})
        except NotFound as e:
            return self._error(404, str(e))

    def do_POST(self) -> None:  # noqa: N802
        route = self._route()
        body = self._read_body()
        if body is None:
            return None
        if route is None or route[2] is None or route[3]:
            return self._error(404, f"Malformed request: POST {self.path}")
        name, version, verb, _ = route
        if verb != "predict":
            return self._error(400, f"The '{verb}' API is not served here; use :predict")
        try:
            servable = self.server.repository.get(name, version)
            request = parse_body(body)
            signature_name = request.get("signature_name", DEFAULT_SIGNATURE)
            signature = servable.signatures.get(signature_name)
            if signature is None:
                raise BadRequest(f'Serving signature name: "{signature_name}" not found in signature '
                                 f"def; have {sorted(servable.signatures)}")
            tensors, row_format = request_tensors(request, signature.inputs)
            outputs = self.server.run(signature, tensors)
            self._send(200, response_body(outputs, row_format))
        except NotFound as e:
            self._error(404, str(e))
        except BadRequest as e:
            self._error(400, str(e))
        except _ModelFailure as e:
            self._error(e.status, e.message)
        except (ConnectionError, TimeoutError):
            raise
        except Exception:  # a bug here: answer it, keep serving, keep the traceback in the log
            logger.exception("Internal error answering POST %s", self.path)
            self._error(500, "Internal server error")

    def _read_body(self) -> bytes | None:
        length = self.headers.get("Content-Length")
        if length is None:
            self.close_connection = True
            self._error(411, "A Content-Length header is required")
            return None
        if not (length.isascii() and length.isdigit()):  # "5, 7" from a proxy's merge, "-1", "0x10"
            self.close_connection = True
            self._error(400, f"Content-Length must be one decimal number of bytes; received {length!r}")
            return None
        size = int(length)
        if size > self.server.options.max_body_bytes:
            self.close_connection = True
            self._error(413, f"The request body ({size} bytes) is over the limit of "
                             f"{self.server.options.max_body_bytes} bytes")
            return None
        chunks: list[bytes] = []
        received = 0
        try:
            while received < size:
                chunk = self.rfile.read1(size - received)
                if not chunk:
                    break
                chunks.append(chunk)
                received += len(chunk)
        except TimeoutError:
            pass
        body = b"".join(chunks)
        if len(body) < size:  # the client stopped sending (or closed) mid-body
            self.close_connection = True
            self._error(408, f"The request body stopped after {len(body)} of its {size} bytes "
                             f"(Content-Length) for {self.server.options.timeout:g} s")
            return None
        return body

    def do_PUT(self) -> None:  # noqa: N802
        self._read_body()
        self._error(405, f"Malformed request: PUT {self.path}")

    do_DELETE = do_PUT


class _ModelFailure(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class ModelServer(ThreadingHTTPServer):
    """The HTTP server: one thread per connection, a poller for new versions."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, repository: ModelRepository, options: ServerOptions) -> None:
        self.repository = repository
        self.options = options
        self._stop_polling = threading.Event()
        super().__init__((options.host, options.port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def run(self, signature: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        import tensorflow as tf

        try:
            return signature.function(**{k: tf.constant(v) for k, v in tensors.items()})
        except (tf.errors.InvalidArgumentError, tf.errors.OutOfRangeError) as e:
            # Bad data inside a valid tensor (an image that does not decode ...).
            raise _ModelFailure(400, _first_line(e.message)) from None
        except tf.errors.OpError as e:
            logger.exception("The model failed")
            raise _ModelFailure(500, _first_line(e.message)) from None

    def poll(self) -> None:
        while not self._stop_polling.wait(self.options.poll_seconds):
            for change in self.repository.refresh():
                logger.info(change)

    def serve(self) -> None:
        """Serves until `shutdown` (from another thread) or Ctrl-C."""
        poller = threading.Thread(target=self.poll, name="kerasdl-version-poller", daemon=True)
        poller.start()
        try:
            self.serve_forever(poll_interval=0.2)
        finally:
            self._stop_polling.set()
            self.server_close()

    def shutdown(self) -> None:
        self._stop_polling.set()
        super().shutdown()


def _first_line(message: str) -> str:
    """The op's own words from a TensorFlow error ("Graph execution error: Detected at
    node ...: <why> [[{{node ...}}]]")."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith(("Graph execution error", "Detected at node",
                                                               "[[", "File ", "Stack trace"))
              and not line.startswith("<") and "{{node" not in line]
    for line in useful:
        if ":" in line and not line.endswith(":"):
            return line
    return useful[0] if useful else (lines[0] if lines else "the model failed")


def start_server(models_dir: str, options: ServerOptions | None = None) -> ModelServer:
    """Loads every model under `models_dir` and binds the port; call `.serve()` next.

    Raises:
        KerasdlError: for a folder with no loadable SavedModel, or a port in use.

    Example:
    >>> from kerasdl.serving.server import ServerOptions, start_server
    >>> server = start_server("saved_models", ServerOptions(port=8501))  # doctest: +SKIP
    >>> server.serve()  # doctest: +SKIP
    """
    from kerasdl.errors import KerasdlError

    options = options or ServerOptions()
    repository = ModelRepository(models_dir)
    started = time.perf_counter()
    for change in repository.refresh():
        logger.info(change)
    if not repository.names():
        raise KerasdlError(f"No loadable SavedModel under {models_dir} (expected NAME/VERSION/"
                           "saved_model.pb, as `kerasdl export` writes).")
    logger.info("Loaded %s in %.1f s", ", ".join(repository.names()), time.perf_counter() - started)
    try:
        return ModelServer(repository, options)
    except OSError as e:
        raise KerasdlError(f"Cannot listen on {options.host}:{options.port}: {e.strerror}.") from None
