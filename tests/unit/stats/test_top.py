"""circus-top's layout as text (the curses part is tested in a real terminal)."""

from __future__ import annotations

from circus.stats.top import MAX_PROCESSES, TopModel


def proc(pid: int, cpu, mem=0.5, age=10.0, name=None) -> dict:
    return {"pid": pid, "cpu": cpu, "mem": mem, "age": age, "name": name}


def test_busiest_processes_first_then_totals_and_the_rest_counted():
    model = TopModel()
    for pid in range(1, 13):
        model.update("web", str(pid), proc(pid, float(pid)), now=0)
    model.update("web", None, {"pid": list(range(1, 13)), "cpu": 6.5, "mem": 6.0, "age": 10.0}, 0)
    lines = model.lines(100)
    start = lines.index("web")
    rows = lines[start + 2 : start + 2 + MAX_PROCESSES]
    assert [int(r.split()[0]) for r in rows] == list(range(12, 2, -1))
    assert lines[start + 2 + MAX_PROCESSES].strip() == "... 2 more"
    total = lines[start + 3 + MAX_PROCESSES]
    assert "6.50 (avg)" in total and "6.00 (sum)" in total and "10.00 (older)" in total


def test_not_available_values_and_names_and_hidden_watchers():
    model = TopModel()
    model.update("circus", "7", proc(7, "N/A", "N/A", "N/A", name="circusd"), now=0)
    model.update("circusd-stats", "8", proc(8, 1.0), now=0)  # shown under circus only
    lines = model.lines(100)
    assert "circusd-stats" not in lines
    [row] = [line for line in lines if line.startswith("  7 ")]
    assert row.split() == ["7", "(circusd)", "N/A", "N/A", "N/A"]


def test_sockets_by_hits_with_their_sum():
    model = TopModel()
    model.update("sockets", "5", {"fd": 5, "reads": 2, "address": "127.0.0.1:80"}, now=0)
    model.update("sockets", "6", {"fd": 6, "reads": 9, "address": "/run/app.sock"}, now=0)
    model.update("sockets", None, {"addresses": ["a", "b"], "reads": 11}, now=0)
    lines = model.lines(80)
    start = lines.index("sockets")
    assert lines[start + 1].split() == ["ADDRESS", "HITS"]
    assert lines[start + 2].split() == ["/run/app.sock", "9"]
    assert lines[start + 3].split() == ["127.0.0.1:80", "2"]
    assert lines[start + 4].split() == ["11", "(sum)"]


def test_stale_processes_and_watchers_expire():
    model = TopModel(process_timeout=3)
    model.update("web", "1", proc(1, 0.0), now=0)
    model.update("web", "2", proc(2, 0.0), now=2)
    model.update("gone", "3", proc(3, 0.0), now=0)
    model.expire(now=4)
    assert set(model.watchers) == {"web"} and set(model.watchers["web"]) == {"2"}
    model.expire(now=10)
    assert model.lines(80)[-1] == "*** Waiting for data ***"


def test_lines_fit_the_width():
    model = TopModel()
    model.update("a-very-long-watcher-name", "1", proc(1, 12.25), now=0)
    assert all(len(line) <= 29 for line in model.lines(30))
    assert model.lines(30)[1] == "-" * 29
