"""The rest-json and json (awsJson1_1) wire protocols of a botocore service model, served rather than called.

The emulator answers what boto3 sends to ``AWS_ENDPOINT_URL_BEDROCK(_RUNTIME)`` (rest-json) and
``AWS_ENDPOINT_URL_SERVICE_QUOTAS`` (json). This module turns an HTTP request into ``(operation name, input dict)``
using botocore's own service model (a rest-json operation's ``requestUri`` and member locations; a json operation's
``X-Amz-Target`` header), and turns an output dict into the HTTP answer after checking it against the operation's
output shape (required members, known members, enum values, types), so a response botocore would misparse is a loud
emulator bug instead of a quiet wrong value in a handler.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote

import botocore.session
from botocore.model import OperationModel, Shape, StructureShape


class ServiceError(Exception):
    """An error the service answers with (``x-amzn-ErrorType``), e.g. ``ThrottlingException``."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


class ShapeMismatch(AssertionError):
    """The emulator built a response its own service model would reject."""


@dataclass(frozen=True)
class _Route:
    operation: OperationModel
    method: str
    pattern: re.Pattern[str]
    literal_length: int


def _route_for(operation: OperationModel) -> _Route:
    uri = operation.http["requestUri"].split("?")[0]
    regex = ""
    position = 0
    for match in re.finditer(r"\{([A-Za-z0-9_]+)(\+?)\}", uri):
        regex += re.escape(uri[position : match.start()])
        regex += f"(?P<{match.group(1)}>.+)" if match.group(2) else f"(?P<{match.group(1)}>[^/]+)"
        position = match.end()
    regex += re.escape(uri[position:])
    literal_length = len(re.sub(r"\{[^}]+\}", "", uri))
    return _Route(operation, operation.http["method"], re.compile(f"^{regex}/?$"), literal_length)


class Service(Protocol):
    """What the loopback server needs of a protocol: parse a request, serialize an answer or an error."""

    model: Any

    def parse_request(
        self, method: str, raw_path: str, body: bytes, headers: Mapping[str, str] | None = None
    ) -> tuple[str, dict[str, Any]]: ...

    def serialize(self, operation_name: str, output: dict[str, Any]) -> tuple[int, dict[str, str], bytes]: ...

    def error(self, error: ServiceError) -> tuple[int, dict[str, str], bytes]: ...


def service_for(service_name: str) -> Service:
    """The protocol botocore's model of ``service_name`` speaks."""
    protocol = botocore.session.get_session().get_service_model(service_name).protocol
    if protocol == "json":
        return JsonService(service_name)
    return RestJsonService(service_name)


class RestJsonService:
    """Routing, parsing, serializing and shape checks for one rest-json service (``bedrock``, ``bedrock-runtime``)."""

    def __init__(self, service_name: str) -> None:
        self.model = botocore.session.get_session().get_service_model(service_name)
        if self.model.protocol != "rest-json":
            raise ValueError(f"{service_name} speaks {self.model.protocol}, not rest-json")
        routes = [_route_for(self.model.operation_model(name)) for name in self.model.operation_names]
        self._routes = sorted(routes, key=lambda route: -route.literal_length)

    def parse_request(
        self,
        method: str,
        raw_path: str,
        body: bytes,
        headers: Mapping[str, str] | None = None,  # noqa: ARG002 - rest-json routes by path
    ) -> tuple[str, dict[str, Any]]:
        path, _, query = raw_path.partition("?")
        for route in self._routes:
            if route.method != method:
                continue
            match = route.pattern.match(path)
            if match is None:
                continue
            operation = route.operation
            params: dict[str, Any] = {}
            input_shape = operation.input_shape
            if input_shape is not None:
                params.update(_body_members(input_shape, body))
                params.update({name: unquote(value) for name, value in match.groupdict().items()})
                params.update(_query_members(input_shape, query))
            return operation.name, params
        raise ServiceError("UnknownOperationException", f"the emulator has no operation for {method} {path}", 404)

    def serialize(self, operation_name: str, output: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        operation = self.model.operation_model(operation_name)
        shape = operation.output_shape
        problems = check_shape(shape, output, operation_name) if shape is not None else []
        if problems:
            raise ShapeMismatch(f"{self.model.service_name} {operation_name} response: " + "; ".join(problems))
        body = json.dumps(output, default=_json_default).encode()
        status = int(operation.http.get("responseCode", 200))
        return status, {"Content-Type": "application/json"}, body

    def error(self, error: ServiceError) -> tuple[int, dict[str, str], bytes]:
        status = error.status or self._status_of(error.code)
        body = json.dumps({"message": error.message}).encode()
        return status, {"Content-Type": "application/json", "x-amzn-ErrorType": error.code}, body

    def _status_of(self, code: str) -> int:
        try:
            shape = self.model.shape_for(code)
        except Exception:
            return 500
        return int(shape.metadata.get("error", {}).get("httpStatusCode", 400))


class JsonService:
    """The json protocol (awsJson1_1, e.g. ``service-quotas``): POST /, the operation in ``X-Amz-Target``
    (``<targetPrefix>.<Operation>``), the input and output as JSON bodies, errors as ``{"__type", "message"}``."""

    CONTENT_TYPE = "application/x-amz-json-1.1"

    def __init__(self, service_name: str) -> None:
        self.model = botocore.session.get_session().get_service_model(service_name)
        if self.model.protocol != "json":
            raise ValueError(f"{service_name} speaks {self.model.protocol}, not json")
        self._prefix = f"{self.model.metadata['targetPrefix']}."

    def parse_request(
        self,
        method: str,
        raw_path: str,  # noqa: ARG002 - every json operation is POST /
        body: bytes,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[str, dict[str, Any]]:
        target = next((value for name, value in (headers or {}).items() if name.lower() == "x-amz-target"), "")
        operation = target.removeprefix(self._prefix)
        if method != "POST" or not target.startswith(self._prefix) or operation not in self.model.operation_names:
            raise ServiceError("UnknownOperationException", f"the emulator has no operation for {target!r}", 404)
        document = json.loads(body) if body else {}
        if not isinstance(document, dict):
            raise ServiceError("SerializationException", "the request body is not a JSON object")
        return operation, document

    def serialize(self, operation_name: str, output: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        shape = self.model.operation_model(operation_name).output_shape
        problems = check_shape(shape, output, operation_name) if shape is not None else []
        if problems:
            raise ShapeMismatch(f"{self.model.service_name} {operation_name} response: " + "; ".join(problems))
        return 200, {"Content-Type": self.CONTENT_TYPE}, json.dumps(output, default=_json_default).encode()

    def error(self, error: ServiceError) -> tuple[int, dict[str, str], bytes]:
        body = json.dumps({"__type": error.code, "message": error.message}).encode()
        return error.status or 400, {"Content-Type": self.CONTENT_TYPE, "x-amzn-ErrorType": error.code}, body


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _body_members(shape: StructureShape, body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    document = json.loads(body)
    if not isinstance(document, dict):
        raise ServiceError("SerializationException", "the request body is not a JSON object")
    located = {name for name, member in shape.members.items() if member.serialization.get("location")}
    return {name: value for name, value in document.items() if name not in located}


def _query_members(shape: StructureShape, query: str) -> dict[str, Any]:
    values = parse_qs(query, keep_blank_values=True)
    params: dict[str, Any] = {}
    for name, member in shape.members.items():
        if member.serialization.get("location") != "querystring":
            continue
        wire = member.serialization.get("name", name)
        if wire not in values:
            continue
        raw = values[wire][0]
        if member.type_name == "integer":
            params[name] = int(raw)
        elif member.type_name == "boolean":
            params[name] = raw.lower() == "true"
        else:
            params[name] = raw
    return params


_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "long": (int,),
    "float": (int, float),
    "double": (int, float),
    "boolean": (bool,),
    "timestamp": (datetime, str, int, float),
    "blob": (bytes, str),
}


def check_shape(shape: Shape, value: Any, where: str) -> list[str]:
    """Every way ``value`` differs from what ``shape`` allows (an empty list when botocore will parse it)."""
    problems: list[str] = []
    if shape.metadata.get("document"):
        return problems  # a free-form JSON document
    if shape.type_name == "structure":
        assert isinstance(shape, StructureShape)
        if not isinstance(value, dict):
            return [f"{where} must be an object"]
        for name in shape.required_members:
            if shape.members[name].serialization.get("location"):
                continue
            if name not in value:
                problems.append(f"{where}.{name} is required")
        for name, item in value.items():
            member = shape.members.get(name)
            if member is None:
                problems.append(f"{where}.{name} is not in the service model")
            elif item is not None:
                problems.extend(check_shape(member, item, f"{where}.{name}"))
        return problems
    if shape.type_name == "list":
        if not isinstance(value, list):
            return [f"{where} must be a list"]
        for index, item in enumerate(value):
            problems.extend(check_shape(shape.member, item, f"{where}[{index}]"))
        return problems
    if shape.type_name == "map":
        if not isinstance(value, dict):
            return [f"{where} must be a map"]
        for key, item in value.items():
            problems.extend(check_shape(shape.value, item, f"{where}[{key!r}]"))
        return problems
    allowed = _PY_TYPES.get(shape.type_name)
    if allowed is not None and (
        not isinstance(value, allowed) or (shape.type_name != "boolean" and isinstance(value, bool))
    ):
        return [f"{where} must be a {shape.type_name}, not {type(value).__name__}"]
    enum = shape.enum if shape.type_name == "string" else None
    if enum and value not in enum:
        return [f"{where}={value!r} is not one of {list(enum)}"]
    return problems
