"""Hostile exceptions (issue 17, exceptions): the runtime reports them exactly as bare, the
layer records a fault with its cause in every invocation, runs none of their methods and
writes nothing onto them. Handlers note the methods their exceptions run (cases._recorded);
the last event asks for the list.
"""

from __future__ import annotations

from textwrap import dedent

from case import Case
from cases._recorded import REPORT, recorded


def raising(setup: str, error: str) -> dict[str, str]:
    return recorded(setup, f"raise {error}")


CASES: list[Case] = [
    Case(
        "exception-same-object-every-invocation",
        raising(
            """
        CACHED = ValueError("the cached failure")
    """,
            "CACHED",
        ),
        events=[{}, {}, {}, REPORT],
        note="the same exception object raised again got a cause id from the first trace",
    ),
    Case(
        "exception-getattr-class",
        raising(
            """
        class Odd(Exception):
            def __getattr__(self, name):
                note(name)
                return "made up"
    """,
            'Odd("odd")',
        ),
        events=[{}, {}, REPORT],
        note="a class with __getattr__ left a fault with no cause",
    ),
    Case(
        "exception-getattribute-class",
        raising(
            """
        class Watching(Exception):
            def __getattribute__(self, name):
                note(name)
                return super().__getattribute__(name)
    """,
            'Watching("watched")',
        ),
        events=[{}, {}, REPORT],
        note="reading the traceback (stacks, the wrapper's re-raise) ran __getattribute__",
    ),
    Case(
        "exception-unsettable-attributes",
        raising(
            """
        class Frozen(Exception):
            def __setattr__(self, name, value):
                note("set " + name)
                raise AttributeError("frozen")
    """,
            'Frozen("frozen")',
        ),
        events=[{}, REPORT],
        note="a class whose attributes cannot be set left a fault with no cause",
    ),
    Case(
        "exception-str-counted",
        raising(
            """
        class Loud(Exception):
            def __str__(self):
                note("__str__")
                return "loud message"
    """,
            'Loud("x")',
        ),
        events=[{}, REPORT],
        note="__str__ ran once more with the layer than bare",
    ),
    Case(
        "exception-str-slow",
        raising(
            """
        import time

        class Slow(Exception):
            def __str__(self):
                time.sleep(0.3)
                return "slow message"
    """,
            'Slow("x")',
        ),
        time_budget_seconds=0.05,
        note="a slow __str__ cost its time once more with the layer",
    ),
    Case(
        "exception-arg-repr-counted",
        raising(
            """
        class Key:
            def __repr__(self):
                note("__repr__")
                return "Key()"

            def __str__(self):
                note("__str__")
                return "key"

            def __hash__(self):
                return 1
    """,
            "KeyError(Key())",
        ),
        events=[{}, REPORT],
        note="an argument's __repr__ (KeyError's str) ran once more with the layer",
    ),
    Case(
        "exception-args-property",
        raising(
            """
        class Tricky(Exception):
            @property
            def args(self):
                note("args")
                return ("tricky",)
    """,
            'Tricky("real")',
        ),
        events=[{}, REPORT],
        note="an `args` property is never read",
    ),
    Case(
        "exception-huge-message",
        raising("", 'RuntimeError("m" * 200_000)'),
        note="a 200 KB message: the runtime reports it, the datagram stays under 64 KB",
    ),
    Case(
        "exception-cyclic-context",
        {
            "app.py": dedent("""
        def handler(event, context):
            first = ValueError("first")
            second = TypeError("second")
            first.__context__ = second
            second.__context__ = first
            raise first
    """)
        },
        note="a cycle in __context__",
    ),
    Case(
        "exception-group",
        {
            "app.py": dedent("""
        def handler(event, context):
            raise ExceptionGroup("many", [ValueError("a"), KeyError("b"),
                                          ExceptionGroup("inner", [OSError(2, "x")])])
    """)
        },
        note="an exception group",
    ),
    Case(
        "exception-raised-inside-except",
        {
            "app.py": dedent("""
        def handler(event, context):
            try:
                raise KeyError("first")
            except KeyError:
                raise RuntimeError("second")
    """)
        },
        note="an exception raised while handling another",
    ),
    Case(
        "exception-metaclass-name",
        raising(
            """
        class Meta(type):
            @property
            def __name__(cls):
                note("__name__")
                return "Renamed"

        class Named(Exception, metaclass=Meta):
            pass
    """,
            'Named("n")',
        ),
        events=[{}, REPORT],
        note="a metaclass __name__ property is never asked by the layer",
    ),
    Case(
        "exception-oserror-with-object-filename",
        raising(
            """
        class Path:
            def __repr__(self):
                note("__repr__")
                return "Path()"
    """,
            'FileNotFoundError(2, "No such file", Path())',
        ),
        events=[{}, REPORT],
        note="an OSError's str() shows its filename's repr: the layer does not call it",
    ),
]
