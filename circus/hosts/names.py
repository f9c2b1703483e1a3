"""Host-unique names for circus processes and sockets, safe for the kernel's line protocol.

circusd names a worker ``circus.<watcher>.<wid>`` and a socket ``circus.<socket>``. The papa line
protocol cannot carry some characters in a name: a space splits tokens, ``:`` splits watch
records, a trailing ``*`` is a wildcard, ``=`` starts an option, ``\\`` escapes, newlines end the
line. Such characters (and ``%`` itself, ``.`` so the dots stay unambiguous separators, and every
byte outside printable ASCII) are percent-encoded in the watcher/socket part, so:

- every name is one plain token on the wire (never with the ``,`` that separates
  socket names in ``sockets=``),
- ``circus.<watcher>.`` is a prefix that matches exactly that watcher's processes (a watcher
  called ``web.x`` encodes to ``web%2Ex`` and never matches ``circus.web.*``),
- :func:`parse_process_name` gives back the original watcher name and wid.
"""

from __future__ import annotations

NAMESPACE = "circus"
_SEPARATOR = "."
# Printable ASCII that has a meaning in the protocol or in our naming scheme.
_RESERVED = frozenset(" :*%.,=\\$()[]")
_HEX = "0123456789ABCDEF"


def encode_part(text: str) -> str:
    """Percent-encode ``text`` (as UTF-8) so it is a safe, dot-free name component."""
    out: list[str] = []
    for byte in text.encode("utf-8", "surrogateescape"):
        char = chr(byte)
        if 0x21 <= byte <= 0x7E and char not in _RESERVED:
            out.append(char)
        else:
            out.append("%" + _HEX[byte >> 4] + _HEX[byte & 15])
    return "".join(out)


def decode_part(text: str) -> str:
    """Inverse of :func:`encode_part`. Raises ValueError on a malformed escape."""
    if "%" not in text:
        return text
    raw = bytearray()
    index = 0
    while index < len(text):
        char = text[index]
        if char == "%":
            digits = text[index + 1 : index + 3]
            if len(digits) != 2 or any(d not in "0123456789abcdefABCDEF" for d in digits):
                raise ValueError(f"bad percent escape at offset {index} in {text!r}")
            raw.append(int(digits, 16))
            index += 3
        else:
            raw.extend(char.encode("utf-8"))
            index += 1
    return raw.decode("utf-8", "surrogateescape")


def watcher_prefix(watcher: str, namespace: str = NAMESPACE) -> str:
    """The name prefix shared by every process of ``watcher`` (ends with a dot)."""
    if not watcher:
        raise ValueError("a watcher name must not be empty")
    return f"{namespace}{_SEPARATOR}{encode_part(watcher)}{_SEPARATOR}"


def process_name(watcher: str, wid: int, namespace: str = NAMESPACE) -> str:
    """``circus.<watcher>.<wid>`` with the watcher name encoded."""
    if wid < 0:
        raise ValueError(f"wid must be >= 0, not {wid}")
    return f"{watcher_prefix(watcher, namespace)}{wid}"


def parse_process_name(name: str, namespace: str = NAMESPACE) -> tuple[str, int] | None:
    """``(watcher, wid)`` for a name built by :func:`process_name`, None for anything else."""
    parts = name.split(_SEPARATOR)
    if len(parts) != 3 or parts[0] != namespace or not parts[1]:
        return None
    if not parts[2].isascii() or not parts[2].isdigit():
        return None
    try:
        return decode_part(parts[1]), int(parts[2])
    except ValueError:
        return None


def socket_name(socket: str, namespace: str = NAMESPACE) -> str:
    """``circus.<socket>`` with the socket name encoded."""
    if not socket:
        raise ValueError("a socket name must not be empty")
    return f"{namespace}{_SEPARATOR}{encode_part(socket)}"


def parse_socket_name(name: str, namespace: str = NAMESPACE) -> str | None:
    """The socket name for a name built by :func:`socket_name`, None for anything else."""
    parts = name.split(_SEPARATOR)
    if len(parts) != 2 or parts[0] != namespace or not parts[1]:
        return None
    try:
        return decode_part(parts[1])
    except ValueError:
        return None


def is_wire_safe(name: str) -> bool:
    """True if ``name`` can be sent as one token and parsed back from watch records."""
    return bool(name) and all(0x21 <= ord(c) <= 0x7E and c not in " :*,=\\" for c in name)
