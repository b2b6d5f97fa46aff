"""The moto and botocore internals the local harness patches are still where it patches them.

If one of these fails after upgrading moto (pinned at 5.2.5) or botocore, the harness would silently stop running
handlers in-process or stop compressing waits: fix ``tuner/local/lambda_adapter.py`` or
``tuner/local/time_compression.py`` for the new internals, then update these checks.
"""

from __future__ import annotations

import importlib
import inspect

import moto

from tuner.local.lambda_adapter import LAMBDA_EVAL_UTILS_MODULE, PATCHED_FUNCTION
from tuner.local.time_compression import (
    BOTOCORE_BUCKET_MODULE,
    BOTOCORE_ENDPOINT_MODULE,
    RETRIER_MODULE,
    WAIT_FUNCTION_MODULE,
)


def _fail(internal: str, why: str) -> str:
    return f"moto {moto.__version__}: the local harness patches {internal}, but {why}"


def test_lambda_tasks_are_invoked_through_the_patched_function() -> None:
    # Given moto's Lambda task evaluation module
    module = importlib.import_module(LAMBDA_EVAL_UTILS_MODULE)
    internal = f"{LAMBDA_EVAL_UTILS_MODULE}.{PATCHED_FUNCTION}"
    # Then the function the adapter replaces exists with the keyword names the adapter accepts
    assert hasattr(module, PATCHED_FUNCTION), _fail(internal, "it no longer exists")
    parameters = list(inspect.signature(getattr(module, PATCHED_FUNCTION)).parameters)
    assert parameters == ["parameters", "region", "state_credentials"], _fail(
        internal, f"its signature is {parameters}"
    )
    # And both kinds of Lambda task reach it through the module global (so replacing the global takes effect)
    integration = module.execute_lambda_function_integration
    assert PATCHED_FUNCTION in integration.__code__.co_names, _fail(
        internal, "execute_lambda_function_integration no longer calls it"
    )
    for task_module, caller in (
        ("moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda", "StateTaskLambda"),
        (
            "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda",
            "StateTaskServiceLambda",
        ),
    ):
        source = inspect.getsource(getattr(importlib.import_module(task_module), caller))
        assert "execute_lambda_function_integration" in source, _fail(
            internal, f"{caller} no longer calls execute_lambda_function_integration"
        )


def test_wait_states_wait_in_the_patched_method() -> None:
    module = importlib.import_module(WAIT_FUNCTION_MODULE)
    internal = f"{WAIT_FUNCTION_MODULE}.WaitFunction._wait_interval"
    wait_function = getattr(module, "WaitFunction", None)
    assert wait_function is not None, _fail(internal, "WaitFunction no longer exists")
    method = getattr(wait_function, "_wait_interval", None)
    assert method is not None, _fail(internal, "it no longer exists")
    assert list(inspect.signature(method).parameters) == ["self", "env", "wait_seconds"], _fail(
        internal, "its signature changed"
    )
    assert "_wait_interval" in wait_function._eval_body.__code__.co_names, _fail(
        internal, "WaitFunction._eval_body no longer calls it"
    )


def test_retry_intervals_sleep_through_the_module_time() -> None:
    module = importlib.import_module(RETRIER_MODULE)
    internal = f"{RETRIER_MODULE}.time.sleep"
    assert getattr(module, "time", None) is not None, _fail(internal, "the module no longer imports time")
    source = inspect.getsource(module.RetrierDecl._eval_body)
    assert "time.sleep(" in source, _fail(internal, "RetrierDecl._eval_body no longer sleeps with time.sleep")


def test_botocore_retry_backoff_sleeps_through_the_module_time() -> None:
    module = importlib.import_module(BOTOCORE_ENDPOINT_MODULE)
    internal = f"{BOTOCORE_ENDPOINT_MODULE}.time.sleep"
    assert getattr(module, "time", None) is not None, _fail(internal, "the module no longer imports time")
    source = inspect.getsource(module.Endpoint._needs_retry)
    assert "time.sleep(" in source, _fail(internal, "Endpoint._needs_retry no longer sleeps with time.sleep")


def test_adaptive_retry_rate_limiter_builds_its_clock_and_bucket_from_the_module() -> None:
    adaptive = importlib.import_module("botocore.retries.adaptive")
    bucket = importlib.import_module(BOTOCORE_BUCKET_MODULE)
    internal = f"{BOTOCORE_BUCKET_MODULE}.Clock/TokenBucket"
    source = inspect.getsource(adaptive.register_retry_handler)
    assert "bucket.Clock()" in source, _fail(internal, "register_retry_handler no longer calls bucket.Clock()")
    assert "bucket.TokenBucket(" in source, _fail(
        internal, "register_retry_handler no longer builds bucket.TokenBucket"
    )
    for private in ("_acquire", "_refill", "_sleep_amount"):
        assert hasattr(bucket.TokenBucket, private), _fail(internal, f"TokenBucket.{private} no longer exists")
    assert "_current_capacity" in inspect.getsource(bucket.TokenBucket._acquire), _fail(
        internal, "TokenBucket._acquire no longer keeps _current_capacity"
    )


def test_moto_leaves_loopback_endpoints_alone() -> None:
    # The emulator is reached on http://127.0.0.1:<port>; moto must pass such requests through to the socket.
    from moto.core.botocore_stubber import BotocoreStubber
    from moto.core.utils import get_equivalent_url_in_aws_domain

    internal = "moto.core.botocore_stubber.BotocoreStubber.process_request"
    parsed, changed = get_equivalent_url_in_aws_domain("http://127.0.0.1:4567/model-customization-jobs")
    assert not changed, _fail(internal, "loopback URLs are now rewritten to an AWS domain")
    source = inspect.getsource(BotocoreStubber.process_request)
    assert "backend_url_patterns" in source, _fail(internal, "it no longer matches requests by backend URL pattern")
    assert parsed.netloc == "127.0.0.1:4567"
