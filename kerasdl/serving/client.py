"""A TF Serving REST client: `kerasdl predict --server URL MODEL INPUTS`.

It speaks only the public REST API, so it works the same against `kerasdl serve` and
a real TF Serving.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any, Sequence

from kerasdl.errors import DataError, KerasdlError

if TYPE_CHECKING:
    from kerasdl_edge.codecs import Codec


def model_url(server: str, model: str, version: int | None = None) -> str:
    base = server.rstrip("/")
    if not base.startswith(("http://", "https://")):
        base = "http://" + base
    return f"{base}/v1/models/{model}" + (f"/versions/{version}" if version is not None else "")


def post_json(url: str, body: dict[str, Any], timeout: float = 60.0) -> dict[str, Any]:
    """POSTs `body`; returns the JSON answer.

    Raises:
        KerasdlError: the server's `error` for a 4xx/5xx answer, or why it cannot be reached.
    """
    data = json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    return _call(request, timeout)


def _call(request: urllib.request.Request, timeout: float) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as e:
        try:
            message = json.loads(e.read()).get("error", e.reason)
        except (ValueError, AttributeError):
            message = e.reason
        raise KerasdlError(f"{request.full_url} answered {e.code}: {message}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise KerasdlError(f"Cannot reach {request.full_url}: {reason}") from None


def predict_remote(
    server: str, model: str, inputs: Sequence[str], *, app_name: str | None = None,
    version: int | None = None, timeout: float = 60.0,
) -> tuple["Codec", list[dict[str, Any]]]:
    """Sends `inputs` to a served model's `serving_default`; returns the app's codec
    (which formats a row) and one `predict` row per input.

    Args:
        server: e.g. http://localhost:8501.
        model: the served model's name.
        inputs: what the app reads (image or WAV files, texts).
        app_name: the app that made the model (default: `model`, when it names one,
            as `kerasdl export` names models).
        version: a specific version (default: the newest served).

    Example:
    >>> from kerasdl.serving.client import predict_remote
    >>> codec, rows = predict_remote("localhost:8501", "vision", ["shoe.png"])  # doctest: +SKIP
    >>> rows[0]["label"]  # doctest: +SKIP
    'sneaker'
    """
    from kerasdl.registry import APPS, app_names, get_app
    from kerasdl_edge import EdgeError
    from kerasdl_edge.codecs import codec_for

    if not inputs:
        raise KerasdlError("Nothing to predict: give at least one input.")
    app_name = app_name or model
    if app_name not in APPS:
        raise KerasdlError(f"Which app made the model '{model}'? Give `app` "
                           f"({', '.join(app_names())}).")
    # The app's task kind picks the codec; the server holds the model's own data info.
    codec = codec_for(get_app(app_name).task, {})
    try:
        instances = codec.serving_instances(inputs)
        answer = post_json(model_url(server, model, version) + ":predict", {"instances": instances},
                           timeout=timeout)
        predictions = answer.get("predictions")
        if not isinstance(predictions, list) or len(predictions) != len(inputs):
            raise KerasdlError(f"The server's answer holds no prediction per input: {str(answer)[:200]}")
        return codec, [{"input": str(i), **d} for i, d in zip(inputs, codec.describe_served(predictions))]
    except EdgeError as e:
        raise DataError(str(e)) from None
