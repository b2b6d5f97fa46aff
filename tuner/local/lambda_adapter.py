"""Runs the real Lambda handler code in-process when moto's Step Functions engine invokes a Lambda task.

moto 5.2.5 executes a ``arn:aws:states:::lambda:invoke`` Task by calling
``moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils._invoke_lambda_function``, which
sends ``lambda:Invoke`` to moto's Lambda backend, which would start a Docker container. This module replaces exactly
that one function for the duration of a run with ``LocalLambdas.invoke``: it imports the handler string the template
deploys (``lambdas.handlers.<module>.handler``), calls it with the event and a Lambda-shaped context under the
function's own environment variables, and answers the way the Lambda service does: ``{"StatusCode": 200, "Payload":
<json>}``, plus ``"FunctionError": "Unhandled"`` and ``{"errorType", "errorMessage", "stackTrace"}`` when the handler
raises, so the state machine's Retry/Catch rules match on the exception's class name as they do on AWS.

``tests/unit/local/test_moto_internals.py`` fails, naming the internal, if a moto upgrade moves it.
"""

from __future__ import annotations

import importlib
import json
import os
import threading
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

LAMBDA_EVAL_UTILS_MODULE = "moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils"
PATCHED_FUNCTION = "_invoke_lambda_function"


@dataclass(frozen=True)
class LocalFunction:
    """One ``AWS::Lambda::Function`` of the template, as the harness runs it."""

    logical_id: str
    name: str
    arn: str
    handler: str  # "package.module.function"
    environment: Mapping[str, str] = field(default_factory=dict)
    memory_mb: int = 1024
    timeout_seconds: int = 900


@dataclass(frozen=True)
class Invocation:
    function: LocalFunction
    event: Any
    result: Any
    error_type: str | None


@dataclass
class _Context:
    """What a Lambda handler reads from its context object (Powertools reads these attributes)."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    timeout_seconds: int = 900

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_seconds * 1000


def load_handler(handler: str) -> Callable[[Any, Any], Any]:
    module_name, _, attribute = handler.rpartition(".")
    if not module_name:
        raise ValueError(f"handler {handler!r} is not of the form module.function")
    module = importlib.import_module(module_name)
    function = getattr(module, attribute, None)
    if not callable(function):
        raise ValueError(f"handler {handler!r}: {module_name} has no callable {attribute!r}")
    return function  # type: ignore[no-any-return]


class LocalLambdas:
    """The functions of one local stack, invoked in-process one at a time (each runs under its own environment)."""

    def __init__(self, functions: list[LocalFunction], base_environment: Mapping[str, str] | None = None) -> None:
        self._functions = {function.arn: function for function in functions}
        self._by_name = {function.name: function for function in functions}
        self._base_environment = dict(base_environment or {})
        # Environment variables are process-wide: invocations of the same function (a Map's shards) may run at
        # once, as on AWS; another function waits until they are done.
        self._turn = threading.Condition()
        self._active: LocalFunction | None = None
        self._active_count = 0
        self._saved_environment: dict[str, str | None] = {}
        self.invocations: list[Invocation] = []
        self.listeners: list[Callable[[Invocation], None]] = []

    @property
    def functions(self) -> list[LocalFunction]:
        return list(self._functions.values())

    @property
    def current(self) -> LocalFunction | None:
        """The function running now (read by the Bedrock emulator to attribute deletions)."""
        return self._active

    def find(self, function_name: str) -> LocalFunction:
        """Accept what Lambda accepts: an ARN (optionally qualified) or a function name."""
        if function_name in self._functions:
            return self._functions[function_name]
        if function_name in self._by_name:
            return self._by_name[function_name]
        unqualified = ":".join(function_name.split(":")[:7])
        if unqualified in self._functions:
            return self._functions[unqualified]
        raise LookupError(f"no local function {function_name!r}; the stack has {sorted(self._by_name)}")

    def call(self, function: LocalFunction, event: Any) -> Any:
        """Invoke a function directly (the harness does this for the trigger and the sweeper); raises what it raises."""
        response = self.invoke(function.arn, json.dumps(event).encode())
        if "FunctionError" in response:
            payload = response["Payload"]
            raise LocalFunctionError(function.name, payload.get("errorType", "Exception"), payload.get("errorMessage"))
        return response["Payload"]

    def invoke(self, function_name: str, payload: bytes | str | None) -> dict[str, Any]:
        function = self.find(function_name)
        event = json.loads(payload) if payload else {}
        context = _Context(
            function_name=function.name,
            invoked_function_arn=function.arn,
            memory_limit_in_mb=function.memory_mb,
            aws_request_id=str(uuid.uuid4()),
            timeout_seconds=function.timeout_seconds,
        )
        error_type: str | None = None
        with self._running(function):
            try:
                result = load_handler(function.handler)(event, context)
                body = json.loads(json.dumps(result))  # Lambda's runtime serializes the result as JSON
            except Exception as error:
                error_type = _error_type(error)
                body = {
                    "errorMessage": str(error),
                    "errorType": error_type,
                    "requestId": context.aws_request_id,
                    "stackTrace": traceback.format_tb(error.__traceback__),
                }
        invocation = Invocation(function=function, event=event, result=body, error_type=error_type)
        self.invocations.append(invocation)
        for listener in self.listeners:
            listener(invocation)
        response: dict[str, Any] = {"StatusCode": 200, "ExecutedVersion": "$LATEST", "Payload": body}
        if error_type is not None:
            response["FunctionError"] = "Unhandled"
        return response

    @contextmanager
    def _running(self, function: LocalFunction) -> Iterator[None]:
        """Run under the function's environment; concurrent only with invocations of the same function."""
        with self._turn:
            self._turn.wait_for(lambda: self._active is None or self._active.arn == function.arn)
            if self._active is None:
                self._active = function
                self._saved_environment = _apply_environment({**self._base_environment, **function.environment})
            self._active_count += 1
        try:
            yield
        finally:
            with self._turn:
                self._active_count -= 1
                if self._active_count == 0:
                    _restore_environment(self._saved_environment)
                    self._active = None
                    self._turn.notify_all()


def _apply_environment(values: Mapping[str, str]) -> dict[str, str | None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    return saved


def _restore_environment(saved: Mapping[str, str | None]) -> None:
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _error_type(error: Exception) -> str:
    if isinstance(error, TypeError) and "JSON serializable" in str(error):
        return "Runtime.MarshalError"
    return type(error).__name__


class LocalFunctionError(RuntimeError):
    def __init__(self, function_name: str, error_type: str, message: str | None) -> None:
        super().__init__(f"{function_name} failed: {error_type}: {message}")
        self.error_type = error_type
        self.error_message = message or ""


@contextmanager
def installed(lambdas: LocalLambdas) -> Iterator[LocalLambdas]:
    """Route moto's Lambda task invocations to ``lambdas`` while the block runs."""
    module = importlib.import_module(LAMBDA_EVAL_UTILS_MODULE)
    original = getattr(module, PATCHED_FUNCTION)

    # moto calls this with these keyword names; the region and credentials mean nothing in-process.
    def _invoke_lambda_function(
        parameters: dict[str, Any],
        region: str,  # noqa: ARG001
        state_credentials: Any,  # noqa: ARG001
    ) -> dict[str, Any]:
        return lambdas.invoke(parameters["FunctionName"], parameters.get("Payload"))

    setattr(module, PATCHED_FUNCTION, _invoke_lambda_function)
    try:
        yield lambdas
    finally:
        setattr(module, PATCHED_FUNCTION, original)
