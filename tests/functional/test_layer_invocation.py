"""The handler subsegment, in-process with the real SDK, through the shipped pytest plugin."""

from __future__ import annotations

import functools
import importlib
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lambda_tracing
import pytest
from lambda_tracing import coldstart, config, invocation
from lambda_tracing import startup as layer_handler

if TYPE_CHECKING:
    from lambda_tracing.testing import CapturedTraces


class Context:
    aws_request_id = "req-1"
    function_version = "7"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:orders:prod"


@lambda_tracing.trace_handler
def plain(event: Any, context: Any) -> Any:
    return {"statusCode": event.get("status", 200), "body": "ok"}


@lambda_tracing.trace_handler(name="custom name", capture_response=False, capture_event=True)
def configured(event: Any, context: Any) -> Any:
    return {"secret": "s3cr3t"}


def test_annotations_and_cold_start(lambda_tracing_capture: CapturedTraces) -> None:
    plain({}, Context())
    lambda_tracing_capture.new_trace()
    plain({}, Context())
    first, second = lambda_tracing_capture.subsegments("## plain")
    assert first["annotations"] == {
        "ColdStart": True,
        "Service": "service_undefined",
        "FunctionVersion": "7",
        "FunctionAlias": "prod",
        "RequestId": "req-1",
    }
    assert second["annotations"]["ColdStart"] is False
    assert first["trace_id"] != second["trace_id"]


def test_version_qualifier_is_not_an_alias(lambda_tracing_capture: CapturedTraces) -> None:
    class Versioned(Context):
        invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:orders:7"

    plain({}, Versioned())
    assert "FunctionAlias" not in lambda_tracing_capture.annotations("## plain")


def test_service_from_powertools_variable(
    lambda_tracing_capture: CapturedTraces, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "payments")
    traced = lambda_tracing.trace_handler(lambda event, context: 1)
    traced({}, None)
    (sub,) = lambda_tracing_capture.subsegments()
    assert sub["annotations"]["Service"] == "payments"
    assert sub["name"] == "## _lambda_"
    assert sub["metadata"]["payments"]["response"] == 1


@pytest.mark.parametrize(
    ("status", "flags"),
    [
        (200, set()),
        (404, {"error"}),
        (429, {"error", "throttle"}),
        (502, {"fault"}),
    ],
)
def test_http_status_flags(
    lambda_tracing_capture: CapturedTraces, status: int, flags: set[str]
) -> None:
    plain({"requestContext": {"elb": {}}, "status": status}, None)
    (sub,) = lambda_tracing_capture.subsegments("## plain")
    assert sub["http"]["response"]["status"] == status
    assert {flag for flag in ("error", "fault", "throttle") if sub.get(flag)} == flags


def test_status_ignored_for_non_http_events(lambda_tracing_capture: CapturedTraces) -> None:
    plain({"Records": [], "status": 500}, None)
    (sub,) = lambda_tracing_capture.subsegments("## plain")
    assert "http" not in sub and "fault" not in sub


def test_decorator_arguments(lambda_tracing_capture: CapturedTraces) -> None:
    configured({"password": "p", "q": 1}, None)
    (sub,) = lambda_tracing_capture.subsegments("## custom name")
    assert sub["metadata"]["service_undefined"] == {"event": {"password": "[REDACTED]", "q": 1}}


def test_exception_is_a_fault_with_the_users_stack(lambda_tracing_capture: CapturedTraces) -> None:
    @lambda_tracing.trace_handler
    def failing(event: Any, context: Any) -> Any:
        raise KeyError("missing")

    with pytest.raises(KeyError) as raised:
        failing({}, None)
    assert raised.traceback[-1].name == "failing"
    (sub,) = lambda_tracing_capture.subsegments("## failing")
    assert sub["fault"] is True
    (exception,) = sub["cause"]["exceptions"]
    assert exception["type"] == "KeyError"
    assert [frame["label"] for frame in exception["stack"]] == ["failing"]


def test_unsampled_and_untraced_send_nothing(
    lambda_tracing_capture: CapturedTraces, monkeypatch: pytest.MonkeyPatch
) -> None:
    lambda_tracing_capture.new_trace(sampled=False)
    assert plain({}, None)["body"] == "ok"
    monkeypatch.delenv("_X_AMZN_TRACE_ID")
    assert plain({}, None)["body"] == "ok"
    assert lambda_tracing_capture.documents == []


def test_nested_traced_handlers_make_one_subsegment(lambda_tracing_capture: CapturedTraces) -> None:
    @lambda_tracing.trace_handler
    def outer(event: Any, context: Any) -> Any:
        return plain(event, context)

    outer({}, None)
    assert lambda_tracing_capture.names() == ["## outer"]


def test_wrapping_twice_is_a_no_op() -> None:
    settings = config.load({})
    assert invocation.wrap(plain, settings) is plain
    assert invocation.is_wrapped(plain)


def test_disabled_returns_the_function_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    def bare(event: Any, context: Any) -> Any:
        return event

    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    assert lambda_tracing.trace_handler(bare) is bare
    assert lambda_tracing.trace_handler(enabled=True)(bare) is not bare


def test_user_subsegments_and_threads_join_the_handler(
    lambda_tracing_capture: CapturedTraces,
) -> None:
    import threading

    backend = lambda_tracing.get_backend()

    @lambda_tracing.trace_handler
    def work(event: Any, context: Any) -> Any:
        with backend.in_subsegment("step") as step:
            step.put_annotation("item", 3)
            assert backend.current_span() is step
            header = backend.trace_header()
        thread = threading.Thread(
            target=lambda: backend.end_subsegment(backend.begin_subsegment("in thread"))
        )
        thread.start()
        thread.join()
        leaked = backend.begin_subsegment("left open")
        assert leaked is not None
        return header

    header = work({}, None)
    (handler_doc,) = [d for d in lambda_tracing_capture.documents if d["name"] == "## work"]
    children = {child["name"]: child for child in handler_doc["subsegments"]}
    assert children["step"]["annotations"] == {"item": 3}
    assert children["left open"]["in_progress"] is False
    assert header == (
        f"Root={lambda_tracing_capture.trace_id};Parent={children['step']['id']};Sampled=1"
    )
    (thread_doc,) = [d for d in lambda_tracing_capture.documents if d["name"] == "in thread"]
    assert thread_doc["trace_id"] == lambda_tracing_capture.trace_id


def test_in_subsegment_records_and_reraises(lambda_tracing_capture: CapturedTraces) -> None:
    backend = lambda_tracing.get_backend()
    with pytest.raises(ZeroDivisionError), backend.in_subsegment("divide"):
        1 / 0  # noqa: B018
    (doc,) = lambda_tracing_capture.subsegments("divide")
    assert doc["fault"] is True and doc["cause"]["exceptions"][0]["type"] == "ZeroDivisionError"


def test_recorder_takes_the_calls_the_sdk_patchers_make() -> None:
    """The SDK's patchers call these recorder methods with the SDK's parameter names; fail
    loudly if the SDK's recorder drifts from ours."""
    import inspect

    from aws_xray_sdk.core.recorder import AWSXRayRecorder
    from lambda_tracing.backend.recorder import Recorder

    for name in (
        "record_subsegment",
        "current_subsegment",
        "get_trace_entity",
        "begin_subsegment",
        "end_subsegment",
        "is_sampled",
    ):
        theirs = list(inspect.signature(getattr(AWSXRayRecorder, name)).parameters)
        ours = list(inspect.signature(getattr(Recorder, name)).parameters)
        assert ours == theirs, name
    for name in ("in_subsegment", "in_subsegment_async"):
        ours = inspect.signature(getattr(Recorder, name)).parameters
        assert "name" in ours and "namespace" in ours, name


# --- the wrapper's handler module, in-process ---


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    def make(source: str) -> str:
        name = f"user_app_{len(list(tmp_path.iterdir()))}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        return name

    monkeypatch.syspath_prepend(str(tmp_path))
    names_before = set(sys.modules)
    yield make
    for name in set(sys.modules) - names_before:
        if name.startswith("user_app_"):
            del sys.modules[name]


def test_wrapper_and_decorator_make_one_subsegment(
    lambda_tracing_capture: CapturedTraces, user_module: Any
) -> None:
    name = user_module("""
        import lambda_tracing

        @lambda_tracing.trace_handler
        def handler(event, context):
            return "decorated"
    """)
    settings = config.load({"LAMBDA_TRACING_HANDLER": f"{name}.handler"})
    function, function_name = layer_handler.load_user_handler(settings)
    wrapped = invocation.wrap(function, settings, function_name)
    assert wrapped is function
    assert wrapped({}, None) == "decorated"
    names = lambda_tracing_capture.names()
    assert names.count("## handler") == 1
    # The cold-start breakdown recorded by the wrapper goes out with the first traced call.
    assert f"## init {name}" in names and f"import {name}" in names
    assert coldstart.take_init() is None


@pytest.mark.parametrize(
    ("source", "handler_name", "error"),
    [
        ("import not_a_real_module_xyz\n", "handler", ModuleNotFoundError),
        ("def handler(:\n", "handler", SyntaxError),
        ("raise RuntimeError('init failed')\n", "handler", RuntimeError),
        ("def other(event, context): pass\n", "handler", AttributeError),
    ],
)
def test_user_import_errors_are_reraised_unchanged(
    user_module: Any, source: str, handler_name: str, error: type, caplog: pytest.LogCaptureFixture
) -> None:
    name = user_module(source)
    settings = config.load({"LAMBDA_TRACING_HANDLER": f"{name}.{handler_name}"})
    with pytest.raises(error):
        layer_handler.load_user_handler(settings)
    assert any(name in record.getMessage() for record in caplog.records)
    assert not any(type(finder).__name__ == "ImportTimer" for finder in sys.meta_path)


@pytest.mark.parametrize("bad", ["", "nodot", " app "])
def test_names_without_a_dot_are_malformed(bad: str) -> None:
    with pytest.raises(layer_handler.HandlerNameError):
        layer_handler.split_handler_name(bad)


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("src/app.main", ("src/app", "main")),
        (".handler", ("", "handler")),  # the import then fails, as the runtime's does
        ("module.", ("module", "")),
        (" app.handler ", (" app", "handler ")),  # not stripped: the runtime does not strip
    ],
)
def test_handler_names_split_as_the_runtime_splits_them(name: str, parts: tuple[str, str]) -> None:
    assert layer_handler.split_handler_name(name) == parts


def test_missing_patches_module_is_tolerated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "lambda_tracing.patches", None)
    layer_handler._patch(config.load({}))  # ImportError inside: logged at debug, no raise
    importlib.invalidate_caches()


def test_keyword_calls_and_odd_signatures_pass_through(
    lambda_tracing_capture: CapturedTraces,
) -> None:
    @lambda_tracing.trace_handler
    def handler(evt: Any, ctx: Any = None, *, extra: int = 0) -> Any:
        return (evt, ctx, extra)

    assert handler(evt=1, ctx=2, extra=3) == (1, 2, 3)
    assert handler(4) == (4, None, 0)
    with pytest.raises(TypeError):
        handler(nope=1)
    assert lambda_tracing_capture.names().count("## handler") == 3


@lambda_tracing.trace_handler
async def async_handler(event: Any, context: Any) -> Any:
    import asyncio

    with lambda_tracing.subsegment("inside-await"):
        await asyncio.sleep(0.01)
    if event.get("fail"):
        raise LookupError("not found")
    return {"statusCode": 200}


def test_an_async_handler_is_traced_over_its_await(
    lambda_tracing_capture: CapturedTraces,
) -> None:
    """The decorator keeps an `async def` handler a coroutine function, and its span covers
    the awaited work: the response, an exception, and subsegments opened inside."""
    import asyncio
    import inspect

    assert inspect.iscoroutinefunction(async_handler)
    assert asyncio.run(async_handler({"requestContext": {}}, Context())) == {"statusCode": 200}
    lambda_tracing_capture.new_trace()
    error = None
    try:
        asyncio.run(async_handler({"fail": True}, Context()))
    except LookupError as raised:
        error = raised
    assert error is not None and str(error) == "not found"
    ok, failed = lambda_tracing_capture.subsegments("## async_handler")
    assert ok["http"]["response"]["status"] == 200
    assert ok["metadata"]["service_undefined"]["response"] == {"statusCode": 200}
    assert ok["end_time"] - ok["start_time"] >= 0.01
    inner = [s for s in ok.get("subsegments", []) if s["name"] == "inside-await"]
    assert len(inner) == 1
    (exception,) = failed["cause"]["exceptions"]
    assert exception["type"] == "LookupError" and failed["fault"] is True


async def _async_work(event: Any, context: Any, *, answer: int) -> Any:
    import asyncio

    await asyncio.sleep(0.01)
    return {"answer": answer}


class _AsyncCallable:
    async def __call__(self, event: Any, context: Any) -> Any:
        return await _async_work(event, context, answer=2)


@pytest.mark.parametrize(
    "make",
    [
        lambda: functools.partial(_async_work, answer=2),
        _AsyncCallable,
    ],
    ids=["partial", "async __call__"],
)
def test_other_async_handlers_are_traced_over_their_await_too(
    lambda_tracing_capture: CapturedTraces,
    make: Any,
) -> None:
    import asyncio
    import inspect

    traced = lambda_tracing.trace_handler(make(), name="async-variant")
    assert inspect.iscoroutinefunction(traced)
    assert asyncio.run(traced({}, Context())) == {"answer": 2}
    (span,) = lambda_tracing_capture.subsegments("## async-variant")
    assert span["end_time"] - span["start_time"] >= 0.01
    assert span["metadata"]["service_undefined"]["response"] == {"answer": 2}


@pytest.mark.parametrize(
    "first_header",
    [
        "Root=not-a-trace;Parent=zz;Sampled=1",  # says sampled, but X-Ray would reject its ids
        "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",  # no parent
    ],
)
def test_init_breakdown_waits_for_an_invocation_with_a_trace(
    lambda_tracing_capture: CapturedTraces, monkeypatch: pytest.MonkeyPatch, first_header: str
) -> None:
    """Issue 17: a first invocation whose trace header is unusable used to take the init
    breakdown and drop it."""
    coldstart.remember_init(
        coldstart.Span("## init app", 1.0, 2.0, [coldstart.Span("import app", 1.0, 2.0)])
    )
    monkeypatch.setenv("_X_AMZN_TRACE_ID", first_header)
    assert plain({}, Context())["body"] == "ok"
    assert lambda_tracing_capture.documents == []
    lambda_tracing_capture.new_trace()
    plain({}, Context())
    assert {"## init app", "import app", "## plain"} <= set(lambda_tracing_capture.names())
    assert not coldstart.init_pending()


def _depth(reached: int = 0) -> int:
    try:
        return _depth(reached + 1)
    except RecursionError:
        return reached


def test_a_handler_recurses_as_deep_with_the_layer_as_without(
    lambda_tracing_capture: CapturedTraces,
) -> None:
    """What the limit is for: the depth a handler reaches before RecursionError is the same,
    traced or not, as without the layer (on 3.11 a call through an object's __call__ counted
    one level more, and a handler that fit without the layer did not with it)."""

    def handler(event: Any, context: Any) -> int:
        return _depth()

    bare = handler({}, Context())
    traced = lambda_tracing.trace_handler(handler)
    assert traced({}, Context()) == bare
    lambda_tracing_capture.new_trace(sampled=False)
    assert traced({}, Context()) == bare


def test_the_recursion_limit_gives_back_the_layers_frames(
    lambda_tracing_capture: CapturedTraces,
) -> None:
    """Issue 17: the layer's two frames between the runtime and the handler turned a handler
    that fit under the recursion limit into a RecursionError. They are given back for the call
    (traced: two, untraced: one), and the limit is as it was afterwards."""
    base = sys.getrecursionlimit()
    seen: list[int] = []

    @lambda_tracing.trace_handler
    def handler(event: Any, context: Any) -> int:
        seen.append(sys.getrecursionlimit())
        if event.get("set"):
            sys.setrecursionlimit(event["set"])  # the handler's own choice stays
        return 1

    handler({}, Context())
    lambda_tracing_capture.new_trace(sampled=False)
    handler({}, Context())
    assert seen == [base + 2, base + 1]
    assert sys.getrecursionlimit() == base
    try:
        handler({"set": base + 100}, Context())
        assert sys.getrecursionlimit() == base + 100
    finally:
        sys.setrecursionlimit(base)
