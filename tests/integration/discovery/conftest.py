"""Fixtures of the discovery tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def curve_keys(tmp_path) -> dict[str, str]:
    """A server certificate, a client certificate authorized by it, and the server's public key
    as discovery announces it (Z85): ``server_public``, ``server_secret``, ``client_secret``,
    ``authorized`` (the directory for ``curve_public_keys``), ``key``, and ``circus`` (the two
    ``[circus]`` lines)."""
    import zmq.auth

    keys, authorized = tmp_path / "keys", tmp_path / "authorized"
    keys.mkdir()
    authorized.mkdir()
    server_public, server_secret = zmq.auth.create_certificates(str(keys), "server")
    client_public, client_secret = zmq.auth.create_certificates(str(keys), "client")
    (authorized / "client.key").write_bytes(Path(client_public).read_bytes())
    return {
        "server_public": server_public,
        "server_secret": server_secret,
        "client_secret": client_secret,
        "authorized": str(authorized),
        "key": zmq.auth.load_certificate(server_public)[0].decode(),
        "circus": f"curve_secret_key = {server_secret}\ncurve_public_keys = {authorized}\n",
    }
