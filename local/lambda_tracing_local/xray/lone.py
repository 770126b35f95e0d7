"""The common trace, one root segment alone, in two columns the graph adds up in bulk.

GetServiceGraph over 100,000 such traces spent most of its time unmarshalling a projection
per segment (see graph.py) to append each of its calls to a list. What graph.ServiceGraph
does with a lone root segment depends only on where its calls go (its node and client edge,
and an edge per inferred call) and on five figures per call. So each stored root segment
also keeps:

- its *shape*: (name, type, account, whether its own call counts, the inferred (name, type)
  of each subsegment call that counts), the same for every segment of a service that calls
  the same things; kept once in the store's lone_shapes table, marshalled, and in the row
  as its id: the first 8 bytes of its BLAKE2b digest (a collision among the few thousand
  shapes a store holds has odds of about 1 in 10^11; bytes per row cost pages);
- its *calls*: the figures of those calls packed as 8-byte numbers, a row of m calls x 4:
  start, stop, duration (doubles), and the rounded milliseconds and outcome as one integer
  (milliseconds x 8 + outcome: the outcome's three flags fit in 3 bits), counted once for
  both histograms.

A query groups the lone traces' calls by shape and reads each figure of each position as one
strided slice of the group's joined bytes (in C), so per segment it does a few dict
operations instead of building ~40 objects. Only the segments `_add_lone_root` would take
get these columns, less those that send to an SQS queue (a link from another trace may
point at the message): the rest keep to the projections.
"""

from __future__ import annotations

import hashlib
import marshal
from array import array
from collections import Counter
from collections.abc import Callable, Iterator
from itertools import chain
from struct import Struct

from .graph import IN_PROGRESS, INFERRED_NAME, INFERRED_TYPE, QUEUE_TYPE, NodeKey, Projection
from .statistics import DURATION, MILLIS, OUTCOME, START, STOP, CallStatistics
from .traces import ERROR, FAULT, THROTTLE

MARSHAL_VERSION = 2  # as the store's projections: no back-references to track
FIGURES = 4
OUTCOME_BITS = 3
assert ERROR | THROTTLE | FAULT < 1 << OUTCOME_BITS
assert array("d").itemsize == array("q").itemsize == 8
NOT_LONE = (None, None)
# A service sends the same few shapes over and over: each marshalled and its id found once.
# Bounded: a segment of a shape past the bound keeps to its projection.
_SHAPE_IDS: dict[tuple, int] = {}
SHAPES: dict[int, bytes] = {}  # id -> marshalled shape, of every shape in _SHAPE_IDS
_REMEMBERED = 10_000


def columns(projection: Projection) -> tuple[int | None, bytearray | None]:
    """(shape id, calls) of a lone root segment's projection, or (None, None) for one the
    graph must read whole (the calls a bytearray: what sqlite3 binds without looking for an
    adapter). The id's shape is in SHAPES."""
    if projection[0] != "s" or projection[2] is not None or projection[6] or projection[7]:
        return NOT_LONE  # not a root segment, an inferred one, or a linked one
    own = projection[1]
    counts = not own[IN_PROGRESS]
    # Every call's figures, packed by one call at the end
    figures = (
        [own[START], own[STOP], own[DURATION], own[MILLIS] << OUTCOME_BITS | own[OUTCOME]]
        if counts
        else []
    )
    targets: list[str] = []
    for element in projection[8]:
        if element[INFERRED_NAME] is None:
            continue
        if element[INFERRED_TYPE] == QUEUE_TYPE:
            return NOT_LONE
        if element[IN_PROGRESS]:
            continue
        targets += (element[INFERRED_NAME], element[INFERRED_TYPE])  # flat: a cheaper key
        figures += (
            element[START],
            element[STOP],
            element[DURATION],
            element[MILLIS] << OUTCOME_BITS | element[OUTCOME],
        )
    key = (projection[3], projection[4], projection[5], counts, *targets)
    shape_id = _SHAPE_IDS.get(key)
    if shape_id is None:
        if len(_SHAPE_IDS) >= _REMEMBERED:
            return NOT_LONE
        pairs = tuple(zip(targets[::2], targets[1::2], strict=True))
        shape = marshal.dumps((*key[:4], pairs), MARSHAL_VERSION)
        digest = hashlib.blake2b(shape, digest_size=8).digest()
        shape_id = int.from_bytes(digest, signed=True) or 1  # 0 stands for none (store.py)
        SHAPES[shape_id] = shape  # first: a thread that finds the id finds its shape
        _SHAPE_IDS[key] = shape_id
    calls = len(figures) >> 2
    pack = _PACKS[calls] if calls < len(_PACKS) else _packer(calls)
    return shape_id, bytearray(pack(*figures))


def _packer(calls: int) -> Callable[..., bytes]:
    """Packs `calls` calls' figures: start, stop, duration, and milliseconds x 8 + outcome."""
    return Struct("=" + "3dq" * calls).pack  # native order, standard sizes: as array reads


_PACKS = [_packer(calls) for calls in range(16)]


def grouped_statistics(
    shape: bytes, rows: list[bytes]
) -> Iterator[tuple[NodeKey, tuple[str, str] | None, CallStatistics]]:
    """For the lone segments of one shape (their calls columns in `rows`): per position,
    (the segment's node key, the inferred (name, type) called or None for the segment's
    own call, the statistics of the calls at that position)."""
    name, kind, account, own_counts, targets = marshal.loads(shape)
    calls = int(own_counts) + len(targets)
    if not calls:
        return
    data = b"".join(rows)
    floats, integers = array("d"), array("q")
    floats.frombytes(data)
    integers.frombytes(data)
    width = FIGURES * calls
    key: NodeKey = (name, kind, account)
    called = chain([None] if own_counts else [], targets)
    for position, target in enumerate(called):
        at = FIGURES * position  # start, stop, duration, millis and outcome
        outcomes: Counter[int] = Counter()
        millis: Counter[int] = Counter()
        mask = (1 << OUTCOME_BITS) - 1
        for both, count in Counter(integers[at + 3 :: width]).items():
            outcomes[both & mask] += count
            millis[both >> OUTCOME_BITS] += count
        statistics = CallStatistics(
            outcomes,
            floats[at + 2 :: width].tolist(),
            millis,
            min(floats[at::width]),
            max(floats[at + 1 :: width]),
        )
        yield key, target, statistics
