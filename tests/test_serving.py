"""`kerasdl serve`: TF Serving's REST API over exported vision and sentiment models,
its client (`predict --server`), malformed requests and hot version swaps."""

from __future__ import annotations

import base64
import http.client
import json
import re
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
from click.testing import CliRunner

from kerasdl import api
from kerasdl.cli import cli
from kerasdl.export.exporter import export_run
from kerasdl.serving.server import ModelServer, ServerOptions, start_server


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, trained_run: Path,
           review_csv: Path) -> Iterator[tuple[ModelServer, Path, Path]]:
    from kerasdl.apps.sentiment.config import SentimentConfig
    from kerasdl.config import resolve_config

    root = tmp_path_factory.mktemp("served")
    models = root / "saved_models"
    config = resolve_config(SentimentConfig, preset="tiny",
                            overrides={"dataset": str(review_csv), "model": "bag", "epochs": 3})
    sentiment_run = api.train("sentiment", config, runs_dir=root / "runs", name="s", verbose=0).run.path
    export_run(trained_run, formats=("saved_model",), out_dir=models, name="vision", check=False)
    export_run(sentiment_run, formats=("saved_model",), out_dir=models, name="sentiment", check=False)
    server = start_server(str(models), ServerOptions(port=0, poll_seconds=0.2, timeout=5))
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    yield server, models, sentiment_run
    server.shutdown()
    thread.join(timeout=10)


def _request(server: ModelServer, method: str, path: str, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def _post(server: ModelServer, path: str, body: Any) -> tuple[int, dict[str, Any]]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return _request(server, "POST", path, data, {"Content-Type": "application/json"})


def _images(colour_folder: Path) -> list[Path]:
    return [sorted((colour_folder / c).glob("*.png"))[0] for c in ("red", "green", "blue")]


def test_status_and_metadata(served: tuple[ModelServer, Path, Path]) -> None:
    server = served[0]
    status, body = _request(server, "GET", "/v1/models/vision")
    assert status == 200
    assert body == {"model_version_status": [
        {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}
    status, body = _request(server, "GET", "/v1/models/sentiment/versions/1/metadata")
    assert status == 200 and body["model_spec"] == {"name": "sentiment", "signature_name": "", "version": "1"}
    default = body["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert default["inputs"]["text"]["dtype"] == "DT_STRING"
    assert default["inputs"]["text"]["tensor_shape"]["dim"] == [{"size": "-1", "name": ""}]
    assert set(default["outputs"]) == {"probabilities", "classes", "scores"}


def test_vision_rows_with_b64_match_local_predictions(served: tuple[ModelServer, Path, Path],
                                                      trained_run: Path, colour_folder: Path) -> None:
    images = _images(colour_folder)
    instances = [{"b64": base64.b64encode(p.read_bytes()).decode()} for p in images]
    status, body = _post(served[0], "/v1/models/vision:predict", {"instances": instances})
    assert status == 200, body
    local = api.predict(trained_run, [str(p) for p in images], top_k=3)
    assert [p["classes"] for p in body["predictions"]] == [r["label"] for r in local]
    for prediction, row in zip(body["predictions"], local):
        assert prediction["scores"] == pytest.approx(row["probability"], abs=1e-5)
    # The same images as pixels, column format, through the second signature.
    from PIL import Image

    pixels = [np.asarray(Image.open(p)).tolist() for p in images]
    status, body2 = _post(served[0], "/v1/models/vision/versions/1:predict",
                          {"signature_name": "serve_pixels", "inputs": {"image": pixels}})
    assert status == 200, body2
    assert body2["outputs"]["classes"] == [p["classes"] for p in body["predictions"]]


def test_sentiment_rows_and_columns(served: tuple[ModelServer, Path, Path]) -> None:
    server, _, sentiment_run = served
    texts = ["a wonderful, moving film", "dull and a waste of time", "great acting"]
    status, rows = _post(server, "/v1/models/sentiment:predict", {"instances": texts})
    status2, columns = _post(server, "/v1/models/sentiment:predict", {"inputs": {"text": texts}})
    assert status == status2 == 200
    local = api.predict(sentiment_run, texts)
    assert [p["classes"] for p in rows["predictions"]] == [r["label"] for r in local]
    assert columns["outputs"]["classes"] == [r["label"] for r in local]
    assert np.allclose(columns["outputs"]["probabilities"], [p["probabilities"] for p in rows["predictions"]],
                       atol=1e-6)


def test_predict_server_client(served: tuple[ModelServer, Path, Path], trained_run: Path,
                               colour_folder: Path) -> None:
    images = [str(p) for p in _images(colour_folder)]
    result = CliRunner().invoke(cli, ["predict", "--server", served[0].url, "vision", *images, "--json"])
    assert result.exit_code == 0, result.output
    remote = [json.loads(line) for line in result.output.splitlines()]
    assert [r["label"] for r in remote] == [r["label"] for r in api.predict(trained_run, images)]
    result = CliRunner().invoke(cli, ["predict", "--server", served[0].url, "sentiment", "a fine film"])
    assert result.exit_code == 0 and result.output.startswith("a fine film: "), result.output
    result = CliRunner().invoke(cli, ["predict", "--server", served[0].url, "nothing-here", "x"])
    assert result.exit_code == 1 and "Which app made the model 'nothing-here'?" in result.output
    result = CliRunner().invoke(cli, ["predict", "--server", served[0].url, "--app", "vision", "colours", images[0]])
    assert result.exit_code == 1 and "answered 404: Servable not found for request: Latest(colours)" in result.output
    result = CliRunner().invoke(cli, ["predict", "--server", "http://127.0.0.1:1", "vision", images[0]])
    assert result.exit_code == 1 and "Cannot reach http://127.0.0.1:1/v1/models/vision:predict" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("path", "body", "status", "message"), [
    ("/v1/models/vision:predict", b"{not json", 400, "JSON Parse error"),
    ("/v1/models/vision:predict", {"signature_name": "serving_default"}, 400, "Missing 'instances' or 'inputs' key"),
    ("/v1/models/vision:predict", {"instances": ["x"], "inputs": ["x"]}, 400, "Only one of"),
    ("/v1/models/vision:predict", {"instances": []}, 400, "'instances' must be a non-empty list"),
    ("/v1/models/vision:predict", {"instances": [{"b64": "not base64!"}]}, 400, "Unable to base64 decode"),
    ("/v1/models/vision:predict", {"instances": [{"b64": base64.b64encode(b"no image").decode()}]}, 400,
     "Unknown image file format"),
    ("/v1/models/vision:predict", {"instances": [3.5]}, 400, "Input 'image_bytes' takes strings"),
    ("/v1/models/vision:predict", {"signature_name": "serve_pixels", "inputs": [[[1, 2, 3]]]}, 400,
     "Input 'image' has shape [1, 1, 3]; the signature takes [-1, 16, 16, 3]"),
    ("/v1/models/vision:predict", {"signature_name": "serve_pixels", "instances": [[[[300] * 3] * 16] * 16]},
     400, "outside uint8's range"),
    ("/v1/models/vision:predict", {"signature_name": "serve_pixels", "instances": [[[[0.5] * 3] * 16] * 16]},
     400, "takes integers"),
    ("/v1/models/vision:predict", {"signature_name": "serve_pixels", "instances": [[[1, 2]], [[1]]]},
     400, "ragged"),
    ("/v1/models/vision:predict", {"signature_name": "nope", "instances": ["x"]}, 400,
     'Serving signature name: "nope" not found'),
    ("/v1/models/vision:classify", {"instances": ["x"]}, 400, "'classify' API is not served"),
    ("/v1/models/vision/versions/7:predict", {"instances": ["x"]}, 404,
     "Servable not found for request: Specific(vision, 7)"),
    ("/v1/models/unknown:predict", {"instances": ["x"]}, 404, "Servable not found for request: Latest(unknown)"),
    ("/v2/whatever", {"instances": ["x"]}, 404, "Malformed request: POST /v2/whatever"),
])
def test_malformed_requests_get_tf_serving_errors(served: tuple[ModelServer, Path, Path], path: str,
                                                  body: Any, status: int, message: str) -> None:
    got, answer = _post(served[0], path, body)
    assert got == status and message in answer["error"], answer
    # The server is still there and still right.
    assert _request(served[0], "GET", "/v1/models/vision")[0] == 200


def test_missing_content_length_and_oversized_bodies(served: tuple[ModelServer, Path, Path]) -> None:
    server = served[0]
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=10)
    connection.putrequest("POST", "/v1/models/vision:predict")
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 411 and "Content-Length" in json.loads(response.read())["error"]
    connection.close()
    status, answer = _request(server, "POST", "/v1/models/vision:predict", b"{}",
                              {"Content-Length": str(10 ** 12)})
    assert status == 413 and "over the limit" in answer["error"]
    status, answer = _request(server, "GET", "/v1/models/vision/versions/x")
    assert status == 404


def _raw(server: ModelServer, data: bytes, *, wait: float = 30.0) -> bytes:
    """What the server answers to `data` sent as it is, until it closes or goes quiet."""
    import socket

    with socket.create_connection(server.server_address[:2], timeout=wait) as sock:
        sock.sendall(data)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
                if b"\r\n\r\n" in answer and _body_complete(answer):
                    break
        except TimeoutError:
            pass
    return answer


def _body_complete(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    match = re.search(rb"Content-Length: (\d+)", head)
    return match is not None and len(body) >= int(match.group(1))


def _status_and_error(answer: bytes) -> tuple[int, str]:
    status_line, _, rest = answer.partition(b"\r\n")
    assert re.match(rb"HTTP/1\.[01] \d{3} ", status_line), answer[:200]
    return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2])["error"]


def test_requests_that_broke_the_connection_get_http_answers(served: tuple[ModelServer, Path, Path]) -> None:
    server = served[0]
    deep = b'{"instances": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    status, error = _status_and_error(_raw(server, b"POST /v1/models/vision:predict HTTP/1.1\r\n"
                                                   b"Content-Length: %d\r\n\r\n" % len(deep) + deep))
    assert status == 400 and "nested deeper than" in error
    status, error = _status_and_error(_raw(server, b"GARBAGE / HTTP/9.9\r\n\r\n"))
    assert status == 505 and "HTTP version" in error
    status, error = _status_and_error(_raw(server, b"GARBAGE\r\n\r\n"))
    assert status == 400 and "Bad request syntax" in error
    # A body shorter than its Content-Length: 408 once the idle timeout (5 s here) passes.
    started = time.time()
    status, error = _status_and_error(_raw(server, b"POST /v1/models/vision:predict HTTP/1.1\r\n"
                                                   b'Content-Length: 100\r\n\r\n{"inst'))
    assert status == 408 and "stopped after 6 of its 100 bytes" in error
    assert time.time() - started < server.options.timeout + 10
    assert _request(server, "GET", "/v1/models/vision")[0] == 200


def test_damaged_bodies_get_4xx_answers(served: tuple[ModelServer, Path, Path]) -> None:
    from test_fuzz import mutations

    server = served[0]
    good = json.dumps({"instances": ["a fine film", "an awful one"]}).encode()
    for name, body in mutations(good, seed=12, count=30):
        status, answer = _post(server, "/v1/models/sentiment:predict", body)
        assert status == 200 or 400 <= status < 500, (name, status, answer)
        assert status == 200 or "error" in answer
    assert _post(server, "/v1/models/sentiment:predict", {"instances": ["fine"]})[0] == 200


def test_a_client_that_hangs_up_early_leaves_no_traceback(served: tuple[ModelServer, Path, Path],
                                                          capfd: pytest.CaptureFixture[str]) -> None:
    import socket
    import struct

    server = served[0]
    body = json.dumps({"instances": ["a fine film"] * 4000}).encode()
    for _ in range(3):
        sock = socket.create_connection(server.server_address[:2], timeout=30)
        sock.sendall(b"POST /v1/models/sentiment:predict HTTP/1.1\r\nContent-Length: %d\r\n\r\n"
                     % len(body) + body)
        # Close with a reset, before the answer: the server's write then fails.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    time.sleep(3)  # the server answers into the closed connections
    assert _post(server, "/v1/models/sentiment:predict", {"instances": ["fine"]})[0] == 200
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err and "BrokenPipe" not in captured.err, captured.err[-2000:]


def test_a_new_version_is_served_without_a_restart(served: tuple[ModelServer, Path, Path],
                                                   colour_folder: Path) -> None:
    server, models, sentiment_run = served
    export_run(sentiment_run, formats=("saved_model",), out_dir=models, name="sentiment", check=False)
    deadline = time.time() + 60
    while _request(server, "GET", "/v1/models/sentiment")[1]["model_version_status"][0]["version"] != "2":
        assert time.time() < deadline, "version 2 was not picked up"
        time.sleep(0.1)
    status, body = _post(server, "/v1/models/sentiment/versions/2:predict", {"instances": ["fine"]})
    assert status == 200 and len(body["predictions"]) == 1
    # TF Serving's default policy serves the newest version only.
    assert _post(server, "/v1/models/sentiment/versions/1:predict", {"instances": ["fine"]})[0] == 404


def test_serve_needs_a_folder_with_models(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["serve", str(tmp_path)])
    assert result.exit_code == 1
    assert "No loadable SavedModel under" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(cli, ["serve", str(tmp_path / "missing")])
    assert result.exit_code == 1 and "is not a folder of exported models" in result.output


def test_request_formats_for_a_signature_with_two_inputs() -> None:
    import tensorflow as tf

    from kerasdl.serving.rest import BadRequest, request_tensors, response_body

    inputs = {"x": tf.TensorSpec([None, 2], tf.float32), "tag": tf.TensorSpec([None], tf.string)}
    rows, row_format = request_tensors(
        {"instances": [{"x": [1, 2], "tag": "a"}, {"x": [3, 4], "tag": {"b64": "Yg=="}}]}, inputs)
    columns, column_format = request_tensors({"inputs": {"x": [[1, 2], [3, 4]], "tag": ["a", "b"]}}, inputs)
    assert row_format and not column_format
    for got in (rows, columns):
        assert got["x"].dtype == np.float32 and got["x"].tolist() == [[1, 2], [3, 4]]
        assert got["tag"].tolist() == [b"a", b"b"]
    for bad, message in [({"instances": [[1, 2]]}, "instances[0] must be an object naming them"),
                         ({"instances": [{"x": [1, 2]}]}, "missing: ['tag']"),
                         ({"inputs": {"x": [[1, 2]], "tag": ["a"], "y": 1}}, "unknown: ['y']")]:
        with pytest.raises(BadRequest, match=re.escape(message)):
            request_tensors(bad, inputs)
    answer = response_body({"p": np.array([[0.5, 0.5]]), "label_bytes": np.array([b"\x00\xff"], dtype=object)}, True)
    assert answer == {"predictions": [{"p": [0.5, 0.5], "label_bytes": {"b64": "AP8="}}]}
