"""The PUB socket is bound while the first spawns are with the host, not before them; the
events published before the bind are held and published right after it, in order."""

from __future__ import annotations

from arbiter_server import Server

import circus.events


def test_pub_socket_is_bound_once_the_first_spawns_are_requested(
    tmp_path, runtime_dir, monkeypatch
):
    spawned: list[str] = []
    seen_at_bind: list[list[str]] = []
    published: list[str] = []

    class Recording(circus.events.EventPublisher):
        def __init__(self, *args, **kwargs):
            seen_at_bind.append(list(spawned))
            super().__init__(*args, **kwargs)

        def publish(self, topic, payload):
            published.append(topic)
            super().publish(topic, payload)

    monkeypatch.setattr(circus.events, "EventPublisher", Recording)
    server = Server(tmp_path, f"ipc://{tmp_path}/ctl.sock", f"ipc://{tmp_path}/pub.sock")
    record_spawn = server.host.on_spawn
    server.host.on_spawn = lambda proc: (spawned.append(proc.name), record_spawn(proc))
    server.start()
    try:
        assert len(seen_at_bind) == 1 and seen_at_bind[0], "bound before any spawn request"
        # every start-up event reached the real publisher, the held ones first, in order
        starts = [t for t in published if t.startswith("watcher.sleeper.")]
        assert starts.count("watcher.sleeper.spawn") == 2
        assert starts.index("watcher.sleeper.spawn") < starts.index("watcher.sleeper.start")
    finally:
        server.stop()
