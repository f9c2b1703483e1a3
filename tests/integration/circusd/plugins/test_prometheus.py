"""PrometheusExporter against a real circusd, scraped over real HTTP and parsed with
prometheus_client's own parser: per-watcher and per-process figures of real workers (a CPU
hog, a 64 MiB worker), counters that follow real exits, flapping state from circusd."""

from __future__ import annotations

import re
import signal
import sys
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support import WORKER_CMD, free_port, wait_for

pytestmark = pytest.mark.timeout(90)
# -S: these workers need only the standard library (see support.WORKER_CMD)
HOG = f"{WORKER_CMD} hog"  # a quarter of a core at most
BIG = f"{sys.executable} -S -c \"import time; b = b'x' * (64 << 20); time.sleep(600)\""


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``{(sample name, sorted labels): value}`` of one scrape."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        assert reply.status == 200
        text = reply.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def scraped(port: int):
    try:
        return scrape(port)
    except OSError:
        return None


def test_exporter_serves_watchers_and_processes(circusd, worker_cmd):
    port = free_port()
    d = circusd(f"""
        [watcher:sleepers]
        cmd = {worker_cmd} sleep
        numprocesses = 2

        [watcher:hog]
        cmd = {HOG}

        [watcher:big]
        cmd = {BIG}

        [watcher:idle]
        cmd = {worker_cmd} sleep
        autostart = false

        [plugin:prometheus]
        use = circus.plugins.prometheus.PrometheusExporter
        port = {port}
        loop_rate = 0.3
    """)
    wait_for(lambda: (s := scraped(port)) and value(s, "circus_up") == 1, timeout=30,
             message="the exporter serves and reached circusd")  # fmt: skip
    sleepers = sorted(d.pids("sleepers"))
    [hog] = d.pids("hog")
    [big] = d.pids("big")

    def figures_in():
        s = scrape(port)
        return (
            value(s, "circus_watcher_processes", watcher="sleepers") == 2
            and value(s, "circus_watcher_active", watcher="idle") == 0
            and value(s, "circus_watcher_processes", watcher="idle") == 0
            and (value(s, "circus_process_cpu_percent", watcher="hog", pid=str(hog), wid="1")
                 or 0) > 2  # its share of a core on a loaded machine; 0.0 if unmeasured
            and (value(s, "circus_process_rss_bytes", watcher="big", pid=str(big), wid="1")
                 or 0) > 64 << 20
        )  # fmt: skip

    try:
        wait_for(figures_in, timeout=30, message="figures of the hog and the 64 MiB worker")
    except AssertionError:
        seen = {k: v for k, v in scrape(port).items() if "process" in k[0]}
        raise AssertionError(f"hog {hog}, big {big}; scraped {seen}") from None
    s = scrape(port)
    assert value(s, "circus_watcher_active", watcher="sleepers") == 1
    assert value(s, "circus_watcher_flapping", watcher="sleepers") == 0
    for pid in sleepers:
        assert value(s, "circus_process_age_seconds", watcher="sleepers", pid=str(pid),
                     wid=str(sleepers.index(pid) + 1)) is not None or any(
            name == "circus_process_age_seconds" and ("pid", str(pid)) in labels
            for name, labels in s)  # fmt: skip
    assert (value(s, "circus_watcher_rss_bytes", watcher="big") or 0) >= 64 << 20
    assert value(s, "circus_watcher_restarts_total", watcher="sleepers") == 0

    # a worker killed: one exit, one restart, and the dead pid's series are gone
    victim = sleepers[0]
    d.ok("signal", name="sleepers", pid=victim, signum=signal.SIGKILL)

    def replaced():
        s = scrape(port)
        pids = {
            dict(labels).get("pid")
            for name, labels in s
            if name == "circus_process_rss_bytes" and ("watcher", "sleepers") in labels
        }
        return (
            value(s, "circus_watcher_exits_total", watcher="sleepers") == 1
            and value(s, "circus_watcher_restarts_total", watcher="sleepers") == 1
            and str(victim) not in pids and len(pids) == 2
        )  # fmt: skip

    wait_for(replaced, timeout=30, message="the exit counted, the dead process' series gone")


def test_circusd_gone_is_circus_up_zero(circusd, worker_cmd, tmp_path):
    """The exporter run by hand (circus-plugin) keeps serving when circusd goes away."""
    import subprocess

    port = free_port()
    d = circusd(f"""
        [watcher:one]
        cmd = {worker_cmd} sleep
    """)
    plugin = subprocess.Popen(
        [sys.executable, "-m", "circus.cli.plugin", "--endpoint", d.endpoint,
         "--pubsub", d.pubsub, "--config", f"port:{port}", "--config", "loop_rate:0.3",
         "--config", "namespace:ops",
         "circus.plugins.prometheus.PrometheusExporter"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for(lambda: (s := scraped(port)) and value(s, "ops_up") == 1, timeout=30,
                 message="the exporter under namespace ops reached circusd")  # fmt: skip
        assert value(scrape(port), "ops_watcher_processes", watcher="one") == 1
        d.stop()
        wait_for(lambda: value(scrape(port), "ops_up") == 0, timeout=60,
                 message="circus_up drops to 0 once circusd is gone")  # fmt: skip
    finally:
        plugin.send_signal(signal.SIGTERM)
        try:
            plugin.wait(timeout=20)
        except subprocess.TimeoutExpired:
            plugin.kill()
            plugin.wait()


@pytest.mark.parametrize(
    ("option", "message"),
    [("port:70000", "port: 70000 is not between 0 and 65535"),
     ("loop_rate:soon", "loop_rate: not a float: 'soon'"),
     ("namespace:bad-name", "namespace: not a metric name prefix")],
)  # fmt: skip
def test_bad_options_are_refused_by_name(tmp_path, option, message):
    """Refused as the plugin is made, before it connects: no circusd needed (nothing listens
    at the endpoints). The constructor refuses, in this process (a circus-plugin process
    costs ~0.2 s of CPU); what circus-plugin does with the refusal is the next test."""
    from circus.plugins.prometheus import PrometheusExporter

    key, _, text = option.partition(":")
    endpoints = (f"ipc://{tmp_path}/ctl.sock", f"ipc://{tmp_path}/pub.sock", 1.0)
    with pytest.raises(ValueError, match=re.escape(message)):
        PrometheusExporter(*endpoints, **{key: text}).loop.close()  # (closed if not refused)


def test_circus_plugin_says_which_option_it_refused(tmp_path):
    """circus-plugin, a real process: the refused option named, a non-zero exit."""
    import subprocess

    out = subprocess.run(
        [sys.executable, "-m", "circus.cli.plugin", "--endpoint", f"ipc://{tmp_path}/ctl.sock",
         "--pubsub", f"ipc://{tmp_path}/pub.sock", "--config", "port:70000",
         "circus.plugins.prometheus.PrometheusExporter"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert out.returncode != 0
    assert "port: 70000 is not between 0 and 65535" in out.stdout + out.stderr
