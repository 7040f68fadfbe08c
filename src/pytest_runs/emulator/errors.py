"""API errors the emulator answers with, worded and shaped like the real service's."""

from __future__ import annotations

from typing import Any

__all__ = [
    "ApiError",
    "active_run",
    "bad_json",
    "cannot_cancel",
    "incorrect_api_key",
    "invalid_url",
    "invalid_value",
    "mask_api_key",
    "missing_api_key",
    "missing_parameter",
    "not_found",
    "tool_outputs_mismatch",
    "tool_outputs_not_accepted",
]

_KEYS_URL = "https://platform.openai.com/account/api-keys"


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
    ) -> None:
        """Describe an error answered with ``status``; ``type_``, ``param``, ``code`` fill the body."""
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.param = param
        self.code = code

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
    )


def incorrect_api_key(key: str) -> ApiError:
    """401 for a bearer token that differs from the configured key."""
    return ApiError(
        401,
        f"Incorrect API key provided: {mask_api_key(key)}. You can find your API key at {_KEYS_URL}.",
        code="invalid_api_key",
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
