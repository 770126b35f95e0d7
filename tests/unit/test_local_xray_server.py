"""Addresses and defaults of the local X-Ray server."""

from __future__ import annotations

from pathlib import Path

import pytest
from lambda_tracing_local.xray import LocalXRay
from lambda_tracing_local.xray.server import default_db_path, parse_address


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("127.0.0.1:2000", ("127.0.0.1", 2000)),
        (":2001", ("127.0.0.1", 2001)),
        ("2002", ("127.0.0.1", 2002)),
        ("0.0.0.0:0", ("0.0.0.0", 0)),
        ("[::1]:2000", ("::1", 2000)),
    ],
)
def test_parse_address_defaults_to_loopback(text: str, address: tuple[str, int]) -> None:
    assert parse_address(text) == address


@pytest.mark.parametrize("text", ["localhost", "host:port", "127.0.0.1:70000", ""])
def test_parse_address_rejects_nonsense(text: str) -> None:
    with pytest.raises(ValueError, match="HOST:PORT|out of range"):
        parse_address(text)


def test_default_store_is_under_the_users_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_db_path() == tmp_path / "lambda-tracing" / "xray.sqlite3"


def test_listeners_bind_where_told(tmp_path: Path) -> None:
    with LocalXRay(udp="0.0.0.0:0", api="127.0.0.1:0", db=tmp_path / "x.sqlite3") as xr:
        assert xr.daemon is not None and xr.daemon.socket.getsockname()[0] == "0.0.0.0"
        assert xr.api_url.startswith("http://127.0.0.1:")
        assert xr.db_path == str(tmp_path / "x.sqlite3")
    assert (tmp_path / "x.sqlite3").exists()  # a given store outlives the server


def test_temporary_store_is_removed_on_exit() -> None:
    with LocalXRay() as xr:
        path = Path(xr.db_path)
        assert path.exists()
    assert not path.parent.exists()
