"""``circusctl --hosts FILE``: the circusds of a fleet, one INI section per host.

::

    [DEFAULT]                      ; optional: values every host inherits
    curve_secret_key = keys/operator.key_secret

    [web1]                         ; the host's name, shown in circusctl's output
    endpoint = tcp://10.0.0.11:5555
    curve_server_key = keys/web1.key

    [local]
    endpoint = ipc:///run/circus/circus.sock
    curve_secret_key =             ; empty: no CURVE for this host

    [db1]                          ; through an ssh tunnel: the endpoint as db1 sees it
    endpoint = ipc:///run/circus/circus.sock
    ssh = deploy@db1.example.com:22
    ssh_keyfile = keys/deploy_ed25519

Relative key paths are relative to the file's directory. A host needs ``endpoint``; CURVE needs
both key files or neither. Every mistake is a ``ConfigError`` naming the file and the section.
"""

from __future__ import annotations

import configparser
import os

from circus.client import Host
from circus.errors import ConfigError
from circus.wire.ssh_address import SshServer, TunnelError

OPTIONS = ("endpoint", "curve_secret_key", "curve_server_key", "ssh", "ssh_keyfile")


def load_hosts(path: str) -> list[Host]:
    """The hosts of ``path``, in file order (raises ConfigError)."""
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";", "#"))
    try:
        with open(path, encoding="utf-8") as f:
            parser.read_file(f, source=path)
    except OSError as exc:
        raise ConfigError(f"cannot read hosts file {path}: {exc.strerror or exc}") from None
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise ConfigError(f"hosts file {path}: {exc}") from None
    hosts = [_host(path, parser, name) for name in parser.sections()]
    if not hosts:
        raise ConfigError(f"hosts file {path} names no host (one [name] section per circusd)")
    return hosts


def _host(path: str, parser: configparser.ConfigParser, name: str) -> Host:
    section = parser[name]
    where = f"hosts file {path}, [{name}]"
    unknown = sorted(set(section) - set(OPTIONS))
    if unknown:
        raise ConfigError(f"{where}: unknown option {unknown[0]!r} (known: {', '.join(OPTIONS)})")
    endpoint = section.get("endpoint", "").strip()
    if not endpoint:
        raise ConfigError(f"{where}: no endpoint (e.g. endpoint = tcp://10.0.0.11:5555)")
    if "://" not in endpoint:
        raise ConfigError(
            f"{where}: endpoint {endpoint!r} is not a ZeroMQ address (tcp://, ipc://)"
        )
    keys = [_key_file(path, where, section, option) for option in OPTIONS[1:3]]
    if bool(keys[0]) != bool(keys[1]):
        raise ConfigError(f"{where}: CURVE needs both curve_secret_key and curve_server_key")
    ssh_server = section.get("ssh", "").strip() or None
    if ssh_server:
        try:
            SshServer.parse(ssh_server)
        except TunnelError as exc:
            raise ConfigError(f"{where}: ssh {ssh_server!r}: {exc}") from None
    ssh_keyfile = _key_file(path, where, section, "ssh_keyfile")
    if ssh_keyfile and not ssh_server:
        raise ConfigError(f"{where}: ssh_keyfile without ssh (user@host[:port])")
    return Host(name, endpoint, keys[0], keys[1], ssh_server, ssh_keyfile)


def _key_file(path: str, where: str, section: configparser.SectionProxy, option: str) -> str | None:
    value = section.get(option, "").strip()
    if not value:
        return None
    full = os.path.join(os.path.dirname(os.path.abspath(path)), os.path.expanduser(value))
    if not os.path.isfile(full):
        raise ConfigError(f"{where}: {option} {value!r}: no such file ({full})")
    return full
