"""Why an ssh login failed, from ssh's log (``ssh -E``): one message per cause, naming the host."""

from __future__ import annotations

import re


def classify(log: str, server: str, code: int | None = None) -> str:
    """One message per cause of a failed ssh login, from ssh's log."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    last = lines[-1] if lines else f"ssh exited with {code}"
    if "REMOTE HOST IDENTIFICATION HAS CHANGED" in log or "has changed and you have" in log:
        offending = re.search(r"Offending \S+ key in (\S+)", log)
        where = f" (recorded in {offending.group(1)})" if offending else ""
        return (
            f"the host key of the ssh server {server} has CHANGED since it was recorded"
            f"{where}: refusing to connect (someone may be impersonating it; if the host was "
            "reinstalled, remove the old key with ssh-keygen -R)"
        )
    if re.search(r"No \S+ host key is known for|Host key verification failed", log):
        return (
            f"the host key of the ssh server {server} is unknown (not in known_hosts): "
            "connect once with ssh to check and record it, or add it to known_hosts"
        )
    if "Permission denied" in log:
        return (
            f"the ssh server {server} refused the login ({last}): is this key in the "
            "user's authorized_keys there? (--ssh_keyfile names the key)"
        )
    unreachable = re.search(
        r"Could not resolve hostname.*|connect to host .*|Connection timed out.*|"
        r"No route to host|Network is unreachable|Connection (refused|closed|reset).*",
        log,
    )
    if unreachable:
        return f"cannot reach the ssh server {server}: {unreachable.group(0).strip()}"
    return f"ssh to {server} failed: {last}"
