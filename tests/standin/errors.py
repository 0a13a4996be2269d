"""vLLM's error bodies and a small imitation of its pydantic request-schema checks."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

MAX_STOP_STRINGS = 4


class ApiError(Exception):
    """An error answered with vLLM's ``{"error": {message, type, param, code}}`` body."""

    def __init__(self, status: int, message: str, type_: str | None = None, param: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_ or _error_type(status)
        self.param = param

    def body(self) -> dict[str, Any]:
        return {
            "error": {"message": self.message, "type": self.type, "param": self.param, "code": self.status}
        }


def _error_type(status: int) -> str:
    return {
        400: "BadRequestError",
        404: "NotFoundError",
        500: "InternalServerError",
        501: "NotImplementedError",
        503: "ServiceUnavailableError",
    }.get(status, _phrase(status))


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def invalid(message: str, parameter: str, value: Any) -> ApiError:
    """vLLM's VLLMValidationError: the message gets ``(parameter=X, value=Y)`` appended."""
    return ApiError(400, f"{message} (parameter={parameter}, value={value})", "BadRequestError", parameter)


class ValidationFailure(Exception):
    """A request-schema error, answered like FastAPI's RequestValidationError through vLLM's handler."""

    def __init__(self, errors: list[Any]):
        super().__init__(str(errors))
        self.errors = errors

    def body(self) -> dict[str, Any]:
        count = len(self.errors)
        lines = "\n".join(f"  {e}" for e in self.errors[:10])
        message = f"{count} validation error{'s' if count != 1 else ''}:\n{lines}"
        param: str | None = None
        first = self.errors[0] if self.errors else None
        if isinstance(first, dict):
            loc = [str(p) for p in first.get("loc", ())]
            param = ".".join(loc[:2]) if loc else None
        return {"error": {"message": message, "type": "Bad Request", "param": param, "code": 400}}


def err(kind: str, loc: tuple[Any, ...], msg: str, value: Any) -> dict[str, Any]:
    return {"type": kind, "loc": loc, "msg": msg, "input": value}


# --------------------------------------------------------------------------------------------------
# Request-schema checks (a small imitation of the pydantic models)

_TYPE_ERRORS = {
    "str": ("string_type", "Input should be a valid string"),
    "int": ("int_type", "Input should be a valid integer"),
    "float": ("float_type", "Input should be a valid number"),
    "bool": ("bool_type", "Input should be a valid boolean"),
    "dict": ("dict_type", "Input should be a valid dictionary"),
    "list": ("list_type", "Input should be a valid list"),
}


def _is_kind(value: Any, kind: str) -> bool:
    if kind == "str":
        return isinstance(value, str)
    if kind == "int":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if kind == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "dict":
        return isinstance(value, dict)
    if kind == "list":
        return isinstance(value, list)
    raise AssertionError(kind)


def is_token_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(t, int) and not isinstance(t, bool) for t in value)


def check_schema(body: Any, simple: Mapping[str, str]) -> list[dict[str, Any]]:
    if not isinstance(body, dict):
        return [
            err(
                "model_attributes_type",
                ("body",),
                "Input should be a valid dictionary or object to extract fields from",
                body,
            )
        ]
    errors: list[dict[str, Any]] = []
    for name, kind in simple.items():
        value = body.get(name)
        if value is not None and not _is_kind(value, kind):
            code, msg = _TYPE_ERRORS[kind]
            errors.append(err(code, ("body", name), msg, value))
    return errors


_SAMPLING_FIELDS = {
    "model": "str",
    "max_tokens": "int",
    "temperature": "float",
    "top_p": "float",
    "top_k": "int",
    "min_p": "float",
    "n": "int",
    "stream": "bool",
    "stream_options": "dict",
    "seed": "int",
    "presence_penalty": "float",
    "frequency_penalty": "float",
    "repetition_penalty": "float",
    "include_stop_str_in_output": "bool",
    "request_id": "str",
    "logprobs": "int",
    "min_tokens": "int",
    "add_special_tokens": "bool",
}
_COMPLETION_FIELDS = {**_SAMPLING_FIELDS, "echo": "bool", "suffix": "str"}
_CHAT_FIELDS = {
    **_SAMPLING_FIELDS,
    "max_completion_tokens": "int",
    "add_generation_prompt": "bool",
    "continue_final_message": "bool",
    "logprobs": "bool",
    "top_logprobs": "int",
}


def _check_stop(body: dict[str, Any]) -> list[dict[str, Any]]:
    stop = body.get("stop")
    if stop is None or isinstance(stop, str):
        return []
    if isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        if len(stop) <= MAX_STOP_STRINGS:
            return []
        return [
            err("string_type", ("body", "stop", "str"), "Input should be a valid string", stop),
            err(
                "too_long",
                ("body", "stop", "list[str]"),
                f"List should have at most {MAX_STOP_STRINGS} items after validation, not {len(stop)}",
                stop,
            ),
        ]
    return [
        err("string_type", ("body", "stop", "str"), "Input should be a valid string", stop),
        err("list_type", ("body", "stop", "list[str]"), "Input should be a valid list", stop),
    ]


def _check_stream_options(body: dict[str, Any]) -> list[dict[str, Any]]:
    if body.get("stream_options") is not None and body.get("stream") is not True:
        return [
            err(
                "value_error",
                ("body",),
                "Value error, Stream options can only be defined when `stream=True`. "
                "(parameter=stream_options)",
                body,
            )
        ]
    return []


def validate_completion_body(body: Any) -> None:
    errors = check_schema(body, _COMPLETION_FIELDS)
    if isinstance(body, dict):
        prompt = body.get("prompt")
        ok_prompt = (
            prompt is None
            or isinstance(prompt, str)
            or (isinstance(prompt, list) and all(isinstance(p, str) for p in prompt))
            or is_token_list(prompt)
            or (isinstance(prompt, list) and all(is_token_list(p) for p in prompt))
        )
        if not ok_prompt:
            errors.append(
                err("string_type", ("body", "prompt", "str"), "Input should be a valid string", prompt)
            )
        errors += _check_stop(body)
        if not errors and (prompt is None or prompt == "" or prompt == []):
            errors.append(
                err(
                    "value_error",
                    ("body",),
                    "Value error, Either prompt or prompt_embeds must be provided and non-empty.",
                    body,
                )
            )
        errors += _check_stream_options(body)
    if errors:
        raise ValidationFailure(errors)


def validate_chat_body(body: Any) -> None:
    errors = check_schema(body, _CHAT_FIELDS)
    if isinstance(body, dict):
        messages = body.get("messages")
        if messages is None:
            errors.append(err("missing", ("body", "messages"), "Field required", body))
        elif not isinstance(messages, list):
            errors.append(err("list_type", ("body", "messages"), "Input should be a valid list", messages))
        else:
            for i, message in enumerate(messages):
                if not isinstance(message, dict) or not isinstance(message.get("role"), str):
                    errors.append(err("missing", ("body", "messages", i, "role"), "Field required", message))
        errors += _check_stop(body)
        errors += _check_stream_options(body)
    if errors:
        raise ValidationFailure(errors)
