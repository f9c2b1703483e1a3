"""support.curve_keys: the CURVE certificates of a test, made one way (three fixtures had
their own copy of the set-up)."""

from __future__ import annotations

import os

import support


def test_curve_keys_authorise_the_clients_only(tmp_path):
    keys = support.curve_keys(tmp_path, clients=("client",), others=("intruder",))
    for name in ("server", "client", "intruder"):
        assert os.path.isfile(keys.public(name)) and os.path.isfile(keys.secret(name))
    assert sorted(os.listdir(keys.authorized)) == ["client.key"]
    with open(keys.public("client"), "rb") as public:
        assert (keys.authorized / "client.key").read_bytes() == public.read()
    assert keys.client() == {
        "curve_secret_key": keys.secret("client"),
        "curve_server_key": keys.public("server"),
    }
    assert keys.circus == (
        f"curve_secret_key = {keys.secret('server')}\ncurve_public_keys = {keys.authorized}\n"
    )
