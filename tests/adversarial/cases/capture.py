"""Response capture never runs user code: hostile return values (issue 17, capture).

Most handlers note the methods their hostile objects run (cases._recorded); the last event
asks for the list.
"""

from __future__ import annotations

from textwrap import dedent

from case import Case
from cases._recorded import REPORT, recorded

DRAINING = """
    class Draining(dict):
        def items(self):
            note("items")
            pairs = list(super().items())
            self.clear()
            return pairs
"""


def returning(setup: str, value: str) -> dict[str, str]:
    return recorded(setup, f"return {value}")


CASES: list[Case] = [
    Case(
        "capture-dict-subclass-items-drains",
        returning(DRAINING, 'Draining(statusCode=200, body="kept")'),
        events=[{}, {}, REPORT],
        note="a dict subclass whose items() empties it came back {}",
    ),
    Case(
        "capture-nested-dict-subclass-items-drains",
        returning(DRAINING, '{"outer": Draining(a=1, b=[1, 2])}'),
        events=[{}, REPORT],
        note="the same, one level down",
    ),
    Case(
        "capture-dict-subclass-keys-iter-getitem",
        returning(
            """
        class Watched(dict):
            def keys(self):
                note("keys")
                return super().keys()

            def __iter__(self):
                note("__iter__")
                return super().__iter__()

            def __getitem__(self, key):
                note("__getitem__")
                return super().__getitem__(key)

            def get(self, key, default=None):
                note("get")
                return super().get(key, default)
    """,
            'Watched(statusCode=201, headers={"a": "b"})',
        ),
        events=[{}, REPORT],
        note="no dict method of a subclass is called (get: the status code reader)",
    ),
    Case(
        "capture-dict-subclass-api-gateway-status",
        returning(
            """
        class Watched(dict):
            def get(self, key, default=None):
                note("get " + key)
                return super().get(key, default)

            def __getitem__(self, key):
                note("__getitem__ " + key)
                return super().__getitem__(key)
    """,
            'Watched(statusCode=201, body="ok")',
        ),
        events=[{"httpMethod": "GET", "path": "/", "requestContext": {"requestId": "r"}}, REPORT],
        note="the HTTP status reader called a dict subclass's get() for an API Gateway event",
    ),
    Case(
        "capture-list-subclass-iter-drains",
        returning(
            """
        class Draining(list):
            def __iter__(self):
                note("__iter__")
                while self:
                    yield self.pop(0)
    """,
            '{"items": Draining([1, 2, 3])}',
        ),
        events=[{}, REPORT],
        note="a list subclass whose __iter__ drains it came back empty",
    ),
    Case(
        "capture-list-subclass-len-getitem",
        returning(
            """
        class Watched(list):
            def __len__(self):
                note("__len__")
                return super().__len__()

            def __getitem__(self, index):
                note("__getitem__")
                return super().__getitem__(index)
    """,
            'Watched(["a", "b"])',
        ),
        events=[{}, REPORT],
        note="a list subclass as the response",
    ),
    Case(
        "capture-tuple-subclass-iter",
        returning(
            """
        class Pair(tuple):
            def __iter__(self):
                note("__iter__")
                return super().__iter__()
    """,
            '{"pair": Pair((1, 2))}',
        ),
        events=[{}, REPORT],
        note="a tuple subclass",
    ),
    Case(
        "capture-int-subclass-abs-int-str",
        returning(
            """
        import time

        class Count(int):
            def __abs__(self):
                note("__abs__")
                time.sleep(0.5)
                return int(self)

            def __index__(self):
                note("__index__")
                return 3

            def __format__(self, spec):
                note("__format__")
                return "3"
    """,
            '{"count": Count(3), "big": Count(10 ** 30)}',
        ),
        events=[{}, REPORT],
        note="__abs__ of an int subclass was called, costing seconds when slow",
    ),
    Case(
        "capture-float-subclass",
        returning(
            """
        class Ratio(float):
            def __float__(self):
                note("__float__")
                return 0.0

            def __abs__(self):
                note("__abs__")
                return 0.0
    """,
            '{"ratio": Ratio(0.25)}',
        ),
        events=[{}, REPORT],
        note="a float subclass",
    ),
    Case(
        "capture-str-subclass-len-slow",
        returning(
            """
        import time

        class Text(str):
            def __len__(self):
                note("__len__")
                time.sleep(0.5)
                return super().__len__()

            def __getitem__(self, index):
                note("__getitem__")
                return super().__getitem__(index)
    """,
            '{"body": Text("x" * 3000)}',
        ),
        events=[{}, REPORT],
        note="__len__ of a str subclass was called on capture",
    ),
    Case(
        "capture-enum-values",
        {
            "app.py": dedent("""
        import enum

        class Status(enum.StrEnum):
            OK = "ok"

        class Code(enum.IntEnum):
            CREATED = 201

        def handler(event, context):
            return {"statusCode": Code.CREATED, "status": Status.OK}
    """)
        },
        note="enum members (str and int subclasses) as response values",
    ),
    Case(
        "capture-spoofed-class-property",
        returning(
            """
        class Spoof:
            @property
            def __class__(self):
                note("__class__")
                return dict

            def __getattr__(self, name):
                note(name)
                raise AttributeError(name)

        SPOOF = Spoof()
    """,
            '{"spoof": str(type(SPOOF).__name__), "n": 1} if event.get("plain") else [SPOOF]',
        ),
        events=[{}, {"plain": True}, REPORT],
        note="a spoofed __class__ (isinstance asks it) and __getattr__ were called",
    ),
    Case(
        "capture-getattr-slow-object",
        {
            "app.py": dedent("""
        import time

        class Slow:
            def __getattr__(self, name):
                time.sleep(0.5)
                raise AttributeError(name)

            def __len__(self):
                time.sleep(0.5)
                return 0

        def handler(event, context):
            return {"slow": [Slow() for _ in range(4)]}
    """)
        },
        note="unmarshallable, full of slow methods: same error, no delay",
    ),
    Case(
        "capture-generator-not-consumed",
        returning(
            """
        def numbers():
            for n in range(3):
                note(n)
                yield n
    """,
            '{"gen": numbers()}',
        ),
        events=[{}, REPORT],
        note="a generator in the response is never iterated",
    ),
    Case(
        "capture-exception-as-value",
        returning(
            """
        class Loud(Exception):
            def __str__(self):
                note("__str__")
                return "loud"

            def __repr__(self):
                note("__repr__")
                return "Loud()"
    """,
            '{"error": Loud("x")}',
        ),
        events=[{}, REPORT],
        note="an exception object returned as a value (unmarshallable): never str()'d",
    ),
    Case(
        "capture-namedtuple",
        returning(
            """
        from collections import namedtuple

        class Point(namedtuple("Point", "x y")):
            def _asdict(self):
                note("_asdict")
                return {"x": self.x, "y": self.y}
    """,
            '{"point": Point(1, 2)}',
        ),
        events=[{}, REPORT],
        note="a namedtuple (the marshaller may call _asdict; the layer must not)",
    ),
    Case(
        "capture-huge-string-response",
        {
            "app.py": dedent("""
        def handler(event, context):
            return {"body": "x" * 5_000_000}
    """)
        },
        note="5 MB string: cut to the budget, one small datagram",
    ),
    Case(
        "capture-huge-list-response",
        {
            "app.py": dedent("""
        def handler(event, context):
            return list(range(500_000))
    """)
        },
        note="half a million items: the walk stops at the byte budget",
        # The handler and the runtime's encoding of its answer take 80-180 ms here, and identical
        # runs of them differ by up to ~50 ms on this microVM (page faults of the big list);
        # the layer's part, a capture that stops at the byte budget, is 0.2 ms.
        time_budget_seconds=0.15,
    ),
    Case(
        "capture-wide-dict-response",
        {
            "app.py": dedent("""
        def handler(event, context):
            return {f"key{i}": {"v": i, "s": "y" * 50} for i in range(20_000)}
    """)
        },
        note="20,000 keys",
    ),
    Case(
        "capture-deep-nesting",
        {
            "app.py": dedent("""
        def handler(event, context):
            value = "leaf"
            for _ in range(400):
                value = [value]
            return {"deep": value}
    """)
        },
        note="400 levels: the walk stops at its depth limit",
    ),
    Case(
        "capture-odd-keys-and-floats",
        {
            "app.py": dedent("""
        def handler(event, context):
            return {1: "int", 2.5: "float", None: "none", True: "bool",
                    "nan": float("nan"), "inf": float("inf"), "neg": -0.0}
    """)
        },
        note="non-string keys, NaN and infinities",
    ),
    Case(
        "capture-int-too-long-for-str",
        {
            "app.py": dedent("""
        def handler(event, context):
            return {"huge": 1 << 20000}
    """)
        },
        note="an int str() refuses: the runtime's error, not the layer's",
    ),
    Case(
        "capture-self-referencing",
        {
            "app.py": dedent("""
        def handler(event, context):
            value = {"a": 1}
            value["self"] = value
            return value
    """)
        },
        note="a cycle: the runtime fails to marshal it, the layer stops at its depth limit",
    ),
]
