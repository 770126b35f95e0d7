"""lambda_tracing.coldstart: first-invocation flag and the import timer."""

from __future__ import annotations

import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lambda_tracing import coldstart


def test_first_time_is_true_once() -> None:
    flag = coldstart.FirstTime()
    assert [flag.take() for _ in range(3)] == [True, False, False]


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A throwaway module tree: top imports slow_a (which imports slow_b) and quick."""
    name = f"ltpkg_{time.time_ns()}"
    (tmp_path / f"{name}_slow_b.py").write_text("import time\ntime.sleep(0.03)\n")
    (tmp_path / f"{name}_slow_a.py").write_text(
        f"import time\nimport {name}_slow_b\ntime.sleep(0.02)\n"
    )
    (tmp_path / f"{name}_quick.py").write_text("X = 1\n")
    (tmp_path / f"{name}_top.py").write_text(
        textwrap.dedent(f"""
        import {name}_slow_a
        import importlib
        importlib.import_module("{name}_quick")
        def handler(event, context):
            return event
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    for suffix in ("top", "slow_a", "slow_b", "quick"):
        sys.modules.pop(f"{name}_{suffix}", None)


def test_import_timer_finds_the_slow_imports_with_their_nesting(package: str) -> None:
    import importlib

    before = list(sys.meta_path)
    with coldstart.timing_imports() as timer:
        importlib.import_module(f"{package}_top")
    assert sys.meta_path == before
    assert timer is not None
    (top,) = timer.slowest(3)
    assert top.name == f"import {package}_top"
    (slow_a,) = top.children
    assert slow_a.name == f"import {package}_slow_a"
    (slow_b,) = slow_a.children
    assert slow_b.name == f"import {package}_slow_b"
    assert slow_b.end - slow_b.start >= 0.029
    assert top.start <= slow_a.start <= slow_b.start <= slow_b.end <= slow_a.end <= top.end
    assert abs(top.end - time.time()) < 5
    all_names = {record.name for record in timer.records}
    assert f"{package}_quick" in all_names
    # The loaders are left as they were found.
    spec = sys.modules[f"{package}_slow_a"].__spec__
    assert spec is not None and "exec_module" not in vars(spec.loader)
    assert "\n".join(coldstart.describe([top])).count("ms") == 3


def test_loader_classes_are_left_as_found_even_when_the_import_fails(
    package: str, tmp_path: Path
) -> None:
    from importlib.machinery import ExtensionFileLoader, SourceFileLoader, SourcelessFileLoader

    classes = (SourceFileLoader, SourcelessFileLoader, ExtensionFileLoader)
    before = [dict(vars(loader_class)) for loader_class in classes]
    (tmp_path / f"{package}_fails.py").write_text("raise KeyError('x')\n")
    import importlib

    with pytest.raises(KeyError), coldstart.timing_imports():
        assert "exec_module" in vars(SourceFileLoader)  # timing while inside
        importlib.import_module(f"{package}_fails")
    assert [dict(vars(loader_class)) for loader_class in classes] == before
    sys.modules.pop(f"{package}_fails", None)


def test_imports_of_other_threads_are_not_the_users_init(package: str) -> None:
    import importlib
    import threading

    with coldstart.timing_imports() as timer:
        other = threading.Thread(target=importlib.import_module, args=(f"{package}_quick",))
        other.start()
        other.join()
        importlib.import_module(f"{package}_slow_b")
    assert timer is not None
    assert [record.name for record in timer.records] == [f"{package}_slow_b"]
    assert f"{package}_quick" in sys.modules  # imported all the same


def test_disabled_timer_installs_nothing() -> None:
    before = list(sys.meta_path)
    with coldstart.timing_imports(enabled=False) as timer:
        assert sys.meta_path == before
    assert timer is None


def test_a_failing_import_is_still_timed_and_the_error_passes(package: str, tmp_path: Path) -> None:
    (tmp_path / f"{package}_broken.py").write_text("raise ValueError('broken module')\n")
    import importlib

    with pytest.raises(ValueError, match="broken module"), coldstart.timing_imports() as timer:
        importlib.import_module(f"{package}_broken")
    assert timer is not None and timer.records[0].end > 0
    sys.modules.pop(f"{package}_broken", None)


@pytest.mark.parametrize(
    ("init_type", "cold"),
    [
        (None, True),
        ("on-demand", True),
        ("provisioned-concurrency", False),
        ("snap-start", False),
    ],
)
def test_pre_initialised_environments_have_no_cold_start(
    monkeypatch: pytest.MonkeyPatch, init_type: str | None, cold: bool
) -> None:
    if init_type is None:
        monkeypatch.delenv("AWS_LAMBDA_INITIALIZATION_TYPE", raising=False)
    else:
        monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", init_type)
    flag = coldstart.FirstTime()
    assert [flag.take(), flag.take()] == [cold, False]
