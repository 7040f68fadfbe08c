"""API errors the emulator answers with, worded and shaped like the real service's."""

from __future__ import annotations

from typing import Any

__all__ = [
    "SERVER_ERROR_MESSAGE",
    "ApiError",
    "active_run",
    "bad_json",
    "cannot_cancel",
    "cannot_update_run",
    "incorrect_api_key",
    "invalid_type",
    "invalid_url",
    "invalid_value",
    "mask_api_key",
    "missing_api_key",
    "missing_parameter",
    "not_found",
    "rate_limited",
    "server_error",
    "stream_error_body",
    "tool_outputs_mismatch",
    "tool_outputs_not_accepted",
]

_KEYS_URL = "https://platform.openai.com/account/api-keys"
_WWW_AUTHENTICATE = {"www-authenticate": 'Bearer realm="OpenAI API"'}
#: The message of the real API's 500 answers.
SERVER_ERROR_MESSAGE = "The server had an error while processing your request. Sorry about that!"


class ApiError(Exception):
    """An error response: HTTP status plus the ``{"error": {...}}`` body of the real API."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Describe an error answered with ``status``; ``type_``, ``param``, ``code`` fill the body.

        ``headers`` are extra response headers (``retry-after`` of a 429, ``www-authenticate`` of a 401).
        """
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.param = param
        self.code = code
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        """Return the JSON body, keys in the real order (message, type, param, code)."""
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def mask_api_key(key: str) -> str:
    """Mask a key the way the real 401 message does: head and tail kept, the middle replaced by ``*``."""
    # Long keys keep "sk-abc" and the last four characters; short ones keep a quarter at each end so that no
    # recording of an emulator answer ever carries a usable key.
    if len(key) >= 16:
        head, tail = 6, 4
    else:
        head = tail = len(key) // 4
    middle = len(key) - head - tail
    return key[:head] + "*" * middle + (key[-tail:] if tail else "")


def missing_api_key() -> ApiError:
    """401 for a request without a bearer token."""
    return ApiError(
        401,
        "You didn't provide an API key. You need to provide your API key in an Authorization header "
        "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank "
        "username) if you're accessing the API from your browser and are prompted for a username and "
        f"password. You can obtain an API key from {_KEYS_URL}.",
        headers=_WWW_AUTHENTICATE,
    )


def incorrect_api_key(key: str) -> ApiError:
    """401 for a bearer token that differs from the configured key."""
    return ApiError(
        401,
        f"Incorrect API key provided: {mask_api_key(key)}. You can find your API key at {_KEYS_URL}.",
        code="invalid_api_key",
        headers=_WWW_AUTHENTICATE,
    )


def not_found(kind: str, object_id: str) -> ApiError:
    """404 for an unknown object; ``kind`` is e.g. ``thread`` or ``run step``."""
    return ApiError(404, f"No {kind} found with id '{object_id}'.")


def invalid_url(method: str, path: str) -> ApiError:
    """404 for a route the emulator does not serve."""
    return ApiError(404, f"Invalid URL ({method} {path})")


def bad_json() -> ApiError:
    """400 for a body that is not a JSON object."""
    return ApiError(
        400,
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using "
        "your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not "
        "valid JSON. If you have trouble figuring out how to fix this, please contact us through our "
        "help center at help.openai.com.)",
    )


def missing_parameter(name: str) -> ApiError:
    """400 for a required body parameter that was not sent."""
    return ApiError(
        400, f"Missing required parameter: '{name}'.", param=name, code="missing_required_parameter"
    )


def invalid_value(param: str, message: str) -> ApiError:
    """400 for a parameter whose value the emulator cannot use."""
    return ApiError(400, message, param=param, code="invalid_value")


def active_run(thread_id: str, run_id: str) -> ApiError:
    """400 for a run created on a thread that already has an active run."""
    return ApiError(400, f"Thread {thread_id} already has an active run {run_id}.")


def tool_outputs_not_accepted(status: str) -> ApiError:
    """400 for tool outputs submitted to a run that is not waiting for them."""
    return ApiError(400, f'Runs in status "{status}" do not accept tool outputs.')


def tool_outputs_mismatch(expected: list[str], got: list[str]) -> ApiError:
    """400 for tool outputs that do not answer the run's pending tool calls."""
    return ApiError(
        400, f"Expected tool outputs for call_ids {expected!r}, got {got!r}.", param="tool_outputs"
    )


def cannot_cancel(status: str) -> ApiError:
    """400 for cancelling a run that already finished."""
    return ApiError(400, f"Cannot cancel run with status '{status}'.")


def cannot_update_run(status: str) -> ApiError:
    """400 for updating a run that is still being worked on."""
    return ApiError(400, f"Cannot update run with status '{status}'.")


def invalid_type(param: str, expected: str, value: Any) -> ApiError:
    """400 for a parameter of the wrong JSON type, worded as the real API does."""
    return ApiError(
        400,
        f"Invalid type for '{param}': expected {expected}, but got {_json_type(value)} instead.",
        param=param,
        code="invalid_type",
    )


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def rate_limited(model: str, retry_after_ms: int) -> ApiError:
    """429 ``rate_limit_exceeded`` with the headers a client needs to wait and retry."""
    seconds = -(-retry_after_ms // 1000)
    return ApiError(
        429,
        f"Rate limit reached for {model} in organization user-emulator on requests per min (RPM): Limit 3, "
        f"Used 3, Requested 1. Please try again in {retry_after_ms}ms. Visit "
        "https://platform.openai.com/account/rate-limits to learn more.",
        type_="requests",
        code="rate_limit_exceeded",
        headers={
            "retry-after": str(seconds),
            "retry-after-ms": str(retry_after_ms),
            "x-ratelimit-limit-requests": "3",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": f"{retry_after_ms}ms",
        },
    )


def server_error() -> ApiError:
    """500 ``server_error``, as the real API answers when something broke on its side."""
    return ApiError(500, SERVER_ERROR_MESSAGE, type_="server_error")


def stream_error_body(request_id: str) -> dict[str, Any]:
    """The data of an in-stream ``event: error``: a ``server_error`` that cites the request."""
    return ApiError(
        500,
        "The server had an error processing your request. Sorry about that! You can retry your request, or "
        "contact us through our help center at help.openai.com if you keep seeing this error. (Please include "
        f"the request ID {request_id} in your email.)",
        type_="server_error",
    ).body()
