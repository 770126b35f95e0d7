"""Hostile but legal handlers, handler names, module names, settings, threads, forks, file
descriptors and recursion: the runtime-level areas of issue 17."""

from __future__ import annotations

from textwrap import dedent

from case import Case


def app(source: str) -> dict[str, str]:
    return {"app.py": dedent(source)}


CASES: list[Case] = [
    Case(
        "plain-return",
        app("""
        def handler(event, context):
            return {"ok": True, "event": event}
    """),
        events=[{"a": 1}, {"b": 2}],
        note="the baseline: a result passes through",
    ),
]

CASES += [
    Case(
        "raise-value-error",
        app("""
        def handler(event, context):
            raise ValueError("nope")
    """),
        note="an exception's stackTrace carries none of the layer's frames",
    ),
    Case(
        "raise-nested-frames",
        app("""
        def inner(n):
            if n == 0:
                raise KeyError("deep")
            return inner(n - 1)

        def handler(event, context):
            return inner(5)
    """),
        note="a deeper user stack, reported frame for frame",
    ),
    Case(
        "raise-with-cause",
        app("""
        def handler(event, context):
            try:
                {}["x"]
            except KeyError as error:
                raise RuntimeError("wrapped") from error
    """),
        note="an explicit cause",
    ),
    Case(
        "module-body-error",
        app("""
        x = {}["missing"]
        def handler(event, context):
            return 1
    """),
        note="an error in the module body: the runtime's stackTrace as bare (was 11 frames)",
    ),
    Case(
        "module-body-attribute-error",
        app("""
        import os
        os.no_such_function()
        def handler(event, context):
            return 1
    """),
        note="an AttributeError in the module body is not Runtime.HandlerNotFound",
    ),
    Case(
        "module-imports-failing-helper",
        {
            "app.py": "import helper\ndef handler(event, context):\n    return helper.VALUE\n",
            "helper.py": "VALUE = 1 / 0\n",
        },
        note="an error in a module the handler's module imports",
    ),
    Case(
        "recursion-near-limit",
        app("""
        import sys

        def down(n):
            return 0 if n == 0 else 1 + down(n - 1)

        def depth():
            frame, count = sys._getframe(), 0
            while frame is not None:
                frame, count = frame.f_back, count + 1
            return count

        def handler(event, context):
            # As deep as the limit allows without the layer, minus a small margin.
            return down(sys.getrecursionlimit() - depth() - 5)
    """),
        note="the layer's two extra frames turned a working handler into RecursionError",
    ),
    Case(
        "recursion-error",
        app("""
        def forever(n):
            return forever(n + 1)

        def handler(event, context):
            return forever(0)
    """),
        note="a RecursionError is reported as without the layer",
    ),
]

OK_APP = app("""
    def handler(event, context):
        return "ran"
""")

# Handler names as a user might mistype them: reported as the runtime reports them.
CASES += [
    Case(
        f"handler-name-{slug}",
        OK_APP,
        handler=name,
        note="bad handler names as the runtime reports them (was: stripped, or a different fault)",
    )
    for slug, name in [
        ("builtin-module", "time.handler"),
        ("builtin-submodule", "sys.path.handler"),
        ("leading-space", " app.handler"),
        ("trailing-space", "app.handler "),
        ("trailing-newline", "app.handler\n"),
        ("leading-dot", ".app.handler"),
        ("trailing-dot", "app.handler."),
        ("only-dot", "."),
        ("no-dot", "app"),
        ("missing-function", "app.nothere"),
        ("missing-module", "nothere.handler"),
        ("directory-form", "pkg/app.handler"),
        ("double-dot", "app..handler"),
        ("dunder-function", "app.__name__"),
    ]
]
CASES.append(
    Case(
        "handler-name-directory-module",
        {
            "pkg/__init__.py": "",
            "pkg/app.py": "def handler(event, context):\n    return 'nested'\n",
        },
        handler="pkg/app.handler",
        note="a handler in a package directory",
    )
)

# Handlers the runtime cannot call as handler(event, context): its TypeError, its frame only.
CASES += [
    Case(
        f"uncallable-{slug}",
        app(source),
        note="a handler the runtime cannot call: the "
        "runtime's TypeError, with no frame of the layer's",
    )
    for slug, source in [
        ("string", "handler = 'not a function'\n"),
        ("no-parameters", "def handler():\n    return 1\n"),
        ("three-required", "def handler(event, context, extra):\n    return 1\n"),
        ("required-keyword", "def handler(event, context, *, flag):\n    return 1\n"),
        ("one-parameter", "def handler(event):\n    return event\n"),
    ]
]
CASES += [
    Case(
        "callable-varargs",
        app("def handler(*args, **kwargs):\n    return len(args)\n"),
        note="a *args handler is still traced and gets both arguments",
    ),
    Case(
        "callable-defaults",
        app("def handler(event, context, extra=3):\n    return extra\n"),
        note="a third parameter with a default",
    ),
    Case(
        "callable-instance",
        app("""
        class Handler:
            def __call__(self, event, context):
                return "instance"
        handler = Handler()
    """),
        note="an instance with __call__",
    ),
    Case(
        "callable-bound-method",
        app("""
        class Service:
            def handle(self, event, context):
                return "method"
        handler = Service().handle
    """),
        note="a bound method",
    ),
    Case(
        "callable-lambda",
        app("handler = lambda event, context: {'lambda': True}\n"),
        note="a lambda",
    ),
    Case(
        "callable-partial",
        app("""
        import functools
        def base(prefix, event, context):
            return prefix
        handler = functools.partial(base, "partial")
    """),
        note="a functools.partial",
    ),
    Case(
        "callable-class",
        app("""
        class handler:
            def __init__(self, event, context):
                self.event = event
            def __repr__(self):
                return "made"
    """),
        note="a class used as the handler: the runtime cannot marshal the instance",
    ),
]

# Modules of the function's own named like the layer's, or like what the layer imports: the
# task root comes first on sys.path, for the user's imports, never for the layer's.
_SHADOWING_APP = """
import {name}

def handler(event, context):
    return {{"mine": getattr({name}, "MINE", None)}}
"""
CASES += [
    Case(
        f"shadow-{name}",
        {f"{name}.py": "MINE = 'user'\n", "app.py": _SHADOWING_APP.format(name=name)},
        note="a user module named like one the layer imports must not break the function",
    )
    for name in [
        "contextvars",
        "typing",
        "functools",
        "threading",
        "socket",
        "dataclasses",
        "traceback",
        "weakref",
        "inspect",
        "random",
        "copy",
        "datetime",
        "uuid",
        "decimal",
        "hashlib",
        "base64",
        "platform",
        "wrapt",
        "aws_xray_sdk",
        "jsonpickle",
    ]
]
CASES += [
    Case(
        "shadow-lambda-tracing-module",
        {
            "lambda_tracing.py": "MINE = 'user'\n",
            "app.py": _SHADOWING_APP.format(name="lambda_tracing"),
        },
        note="a user module named lambda_tracing.py broke the function at start",
    ),
    Case(
        "shadow-lambda-tracing-package",
        {
            "lambda_tracing/__init__.py": "MINE = 'user package'\n",
            "app.py": _SHADOWING_APP.format(name="lambda_tracing"),
        },
        note="a user package named lambda_tracing",
    ),
]
