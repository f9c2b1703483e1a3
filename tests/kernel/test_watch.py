"""watch processes: batches, acknowledgement, redelivery, follow, drops and back-pressure."""

from __future__ import annotations

import os
import time

import pytest
import support
from kernel_helpers import Gate, ReplyError, processes, wait_exited

# the tests that use only ``client`` share one kernel (tests/kernel/conftest.py)
pytestmark = pytest.mark.shared_kernel


def test_watch_delivers_output_then_exit_and_removes_entry(client, tmp_path):
    gate = Gate(tmp_path)
    client.cmd(rf"make process demo sh -c echo\ hi;\ {gate.wait};\ echo\ bye\ >&2;\ exit\ 4")
    assert client.watch("w p demo") == "Watching 1"
    first = client.batch()
    assert [(kind, name, data) for kind, name, _ts, data in first] == [("out", "demo", b"hi\n")]
    gate.open()
    client.ack()
    result = client.collect({"demo"})
    assert result["demo"] == {"out": b"", "err": b"bye\n", "closed": 4}
    assert client.batch() == "Nothing left to watch"
    assert client.cmd("l p") == ""  # an acknowledged closed record removes the process


def test_watch_errors(client):
    with pytest.raises(ReplyError, match="Nothing to watch"):
        client.watch("w p")
    client.cmd("make process s sleep 30")
    with pytest.raises(ReplyError, match="nothere not found"):
        client.watch("w p nothere")
    with pytest.raises(ReplyError, match="Unknown watch option"):
        client.watch("w p bogus=1 s")
    assert client.cmd("l p s").startswith("s pid=")  # connection still usable


def test_output_is_pushed_as_soon_as_read(client, tmp_path):
    gate = Gate(tmp_path)
    client.cmd(rf"make process slow sh -c {gate.wait};\ echo\ late;\ sleep\ 30")
    client.watch("w p slow")
    gate.open()  # it prints once it is watched
    records = client.batch()
    received = time.time()
    assert records[0][3] == b"late\n"
    # papa 1.0.6 polled with a back-off of up to 1 s; a push arrives in milliseconds (the
    # bound is loose so a loaded CI machine cannot make it fail)
    assert received - records[0][2] < 0.9


def test_q_acknowledges_and_stops(client, tmp_path):
    gate = Gate(tmp_path)
    client.cmd(rf"make process tick sh -c echo\ 1;\ {gate.wait};\ echo\ 2")
    client.watch("w p tick")
    assert client.batch()[0][3] == b"1\n"
    client.ack("q")
    assert client.batch() == "Stopped watching"
    gate.open()
    assert client.cmd("get x") == ""  # back in command mode
    client.watch("w p tick")
    result = client.collect({"tick"})
    assert result["tick"]["out"] == b"2\n"  # "1" was acknowledged by q: not sent again


def test_unacknowledged_batch_is_redelivered(connect, client):
    client.cmd(r"make process r sh -c echo\ one;\ sleep\ 30")
    first = connect()
    first.watch("w p r")
    batch = first.batch()
    first.close()  # gone without acknowledging
    second = connect()
    second.watch("w p r")
    again = second.batch()
    assert again == batch  # same data, same timestamps


def test_line_sent_while_idle_is_not_taken_as_next_ack(client):
    client.cmd(r"make process idle sh -c read\ x;\ sleep\ 0.3;\ echo\ a;\ sleep\ 30")
    client.watch("w p idle")
    client.send("l s\n")  # nothing in flight: ignored (papa 1.0.6 used it as the next ack)
    assert client.batch()[0][3] == b"a\n"
    client.ack("q")
    assert client.batch() == "Stopped watching"


def test_make_process_watch_1(client):
    first = client.watch(r"make process w1 watch=1 stderr=stdout sh -c echo\ a;\ echo\ b\ >&2")
    assert first.startswith("w1 pid=")
    result = client.collect({"w1"})
    assert result["w1"]["out"] == b"a\nb\n" and result["w1"]["closed"] == 0
    assert client.batch() == "Nothing left to watch"


def test_stream_modes(client):
    client.cmd(r"make process merged stderr=stdout sh -c echo\ o;\ echo\ e\ >&2")
    client.cmd(r"make process noout stdout=0 sh -c echo\ o;\ echo\ e\ >&2")
    client.cmd(r"make process noerr stderr=0 sh -c echo\ o;\ echo\ e\ >&2")
    client.cmd(r"make process nobuf bufsize=0 sh -c echo\ o;\ echo\ e\ >&2")
    client.watch("w p merged noout noerr nobuf")
    result = client.collect({"merged", "noout", "noerr", "nobuf"})
    assert result["merged"]["out"] == b"o\ne\n" and result["merged"]["err"] == b""
    assert result["noout"]["out"] == b"" and result["noout"]["err"] == b"e\n"
    assert result["noerr"]["out"] == b"o\n" and result["noerr"]["err"] == b""
    assert result["nobuf"] == {"out": b"", "err": b"", "closed": 0}


def test_binary_output_is_exact(client):
    client.cmd(r"make process bin sh -c printf\ '\377\376\000\n'")
    client.watch("w p bin")
    assert client.collect({"bin"})["bin"]["out"] == b"\xff\xfe\x00\n"


def test_capture_goes_on_after_stdout_closes(client):
    script = r"echo\ out1;\ exec\ 1>&-;\ sleep\ 0.2;\ echo\ err-after\ >&2;\ exit\ 7"
    client.cmd(f"make process early sh -c {script}")
    client.watch("w p early")
    result = client.collect({"early"})["early"]
    assert result == {"out": b"out1\n", "err": b"err-after\n", "closed": 7}  # papa: -13, lost


def test_exit_records_follow_arrival_order(client):
    client.cmd(r"make process first sh -c echo\ a;\ exit\ 1")
    wait_exited(client, "first")
    client.cmd(r"make process second sh -c echo\ b;\ exit\ 2")
    wait_exited(client, "second")
    client.watch("w p second first")
    records = client.batch()
    assert [(r[0], r[1]) for r in records] == [
        ("out", "first"), ("closed", "first"), ("out", "second"), ("closed", "second")
    ]  # fmt: skip
    timestamps = [r[2] for r in records]
    assert timestamps == sorted(timestamps)


def test_follow_watch_gets_later_processes_and_never_ends_alone(client, connect):
    client.watch("w p follow=1 job.*")
    other = connect()
    other.cmd(r"make process job.1 sh -c echo\ one")
    other.cmd(r"make process skip.1 sh -c echo\ skip")
    result = client.collect({"job.1"})
    assert result == {"job.1": {"out": b"one\n", "err": b"", "closed": 0}}
    other.cmd(r"make process job.2 sh -c echo\ two")
    assert client.collect({"job.2"})["job.2"]["out"] == b"two\n"
    assert "skip.1" in processes(other)  # not matched, not collected
    client.ack("q")
    assert client.batch() == "Stopped watching"


def test_follow_watch_with_nothing_yet(client):
    assert client.watch("w p follow=1 none.*") == "Watching 0"
    client.ack("q")
    assert client.batch() == "Stopped watching"


def test_several_watchers_see_the_same_data(connect, client):
    client.cmd(r"make process shared sh -c echo\ x;\ sleep\ 30")
    one, two = connect(), connect()
    one.watch("w p shared")
    two.watch("w p shared")
    assert one.batch()[0][3] == two.batch()[0][3] == b"x\n"


def test_batches_are_bounded(client):
    client.watch(r"make process big watch=1 sh -c head\ -c\ 3000000\ /dev/zero")
    total, sizes = 0, []
    while True:
        records = client.batch()
        sizes.append(sum(len(r[3]) for r in records if r[0] == "out"))
        total += sizes[-1]
        client.ack()
        if any(r[0] == "closed" for r in records):
            break
    assert total == 3000000  # back-pressure: nothing dropped while watched
    assert max(sizes) <= 1024 * 1024


def test_back_pressure_blocks_the_writer_while_watched(connect, client, scratch):
    done = os.path.join(scratch, "done")
    client.watch(
        rf"make process bp watch=1 bufsize=64k sh -c head\ -c\ 1000000\ /dev/zero;\ touch\ {done}"
    )
    first = client.batch()  # not acknowledged yet
    time.sleep(0.5)  # the writer must stay blocked: give it time to (wrongly) finish
    assert not os.path.exists(done)
    assert processes(connect(), "bp")["bp"]["running"] == "True"
    received = sum(len(r[3]) for r in first if r[0] == "out")
    client.ack()
    rest = client.collect({"bp"})
    assert received + len(rest["bp"]["out"]) == 1000000 and rest["bp"]["closed"] == 0
    assert os.path.exists(done)


def test_without_watcher_output_is_dropped_and_counted(client):
    client.cmd(r"make process drop bufsize=64k sh -c head\ -c\ 1000000\ /dev/zero;\ echo\ end")
    info = wait_exited(client, "drop")  # nobody watches: the writer never blocks
    assert info["exit_code"] == "0"
    dropped = int(info["dropped_out"])
    assert dropped > 0
    client.watch("w p dropped=1 drop")
    records = client.batch()
    assert records[0][0] == "dropped" and records[0][3:] == ("out", str(dropped))
    kept = sum(len(r[3]) for r in records if r[0] == "out")
    assert dropped + kept == 1000004
    assert records[-2][3].endswith(b"end\n") and records[-1][0] == "closed"
    timestamps = [record[2] for record in records]
    assert timestamps == sorted(timestamps)


def test_output_survives_a_watcher_disconnect(connect, client, tmp_path):
    gate = Gate(tmp_path)
    client.cmd(rf"make process keep sh -c echo\ one;\ {gate.wait};\ echo\ two;\ echo\ three")
    watcher = connect()
    watcher.watch("w p keep")
    assert watcher.batch()[0][3] == b"one\n"
    watcher.close()  # circusd went away without acknowledging
    gate.open()  # the rest is written with nobody watching
    wait_exited(client, "keep")
    again = connect()
    again.watch("w p keep")
    assert again.collect({"keep"})["keep"]["out"] == b"one\ntwo\nthree\n"


def test_remove_running_process_keeps_it_alive_and_unharmed(client, tmp_path):
    log, gate = tmp_path / "log", Gate(tmp_path)
    script = (
        rf"echo\ x;\ {gate.wait};\ i=0;\ while\ [\ $i\ -lt\ 10\ ];\ do\ echo\ x\ ||"
        rf"\ echo\ fail\ >>{log};\ i=$((i+1));\ done;\ echo\ ok\ >>{log}"
    )
    client.cmd(f"make process chatty sh -c {script}")
    client.cmd("r p chatty")
    assert "chatty" in processes(client)  # listed until it exits (as papa 1.0.6)
    gate.open()  # it writes its output only once removed
    support.wait_for(lambda: "chatty" not in processes(client), message="chatty to vanish")
    with open(log) as handle:
        assert handle.read() == "ok\n"  # papa 1.0.6 closed the pipes: SIGPIPE or EPIPE


def test_remove_ends_a_watch_of_that_process(connect, client):
    client.cmd("make process gone sleep 30")
    watcher = connect()
    watcher.watch("w p gone")
    client.cmd("r p gone")
    assert watcher.batch() == "Nothing left to watch"
    client.cmd("signal KILL gone")


# --- hold / release (a client whose destination fails: issue 7 item 4) -------------------------


def test_hold_keeps_the_rest_of_a_stream_until_release(client, tmp_path):
    done, gate = tmp_path / "done", Gate(tmp_path)
    script = rf"echo\ a;\ {gate.wait};\ echo\ b;\ touch\ {done};\ sleep\ 30"
    client.cmd(f"make process h sh -c {script}")
    client.watch("w p h")
    [first] = client.batch()
    assert first[3] == b"a\n"
    client.ack("hold h:out")  # took nothing of h's stdout: keep it
    gate.open()
    support.wait_for(lambda: os.path.exists(done), message="b written")  # not sent while held
    client.send("release h:out\n")  # never an acknowledgement
    records = client.batch()
    while not any(r[0] == "out" and b"b" in r[3] for r in records):  # read late: next batch
        client.ack()
        records += client.batch()
    assert b"".join(r[3] for r in records if r[0] == "out") == b"a\nb\n"  # same "a", then "b"
    assert records[0][2] == first[2]  # redelivered with its original timestamp
    client.ack()


def test_hold_with_a_count_acknowledges_the_chunks_taken(client, scratch):
    done = os.path.join(scratch, "done")
    script = (
        r"echo\ 1;\ sleep\ 0.2;\ echo\ 2;\ sleep\ 0.2;\ echo\ 3;"
        rf"\ touch\ {done};\ sleep\ 30"
    )
    client.cmd(f"make process c sh -c {script}")
    support.wait_for(lambda: os.path.exists(done), message="all three written")  # one batch
    client.watch("w p c")
    records = client.batch()
    # "3" may still be in the pipe: the kernel serves the watch before reading pipes that round
    assert [r[3] for r in records] in ([b"1\n", b"2\n", b"3\n"], [b"1\n", b"2\n"])
    client.ack("hold c:out:1")  # the client wrote "1", failed on "2"; a late "3" is held too
    client.send("release c:out\n")
    assert [r[3] for r in client.batch()] == [b"2\n", b"3\n"]
    client.ack()


def test_a_held_stream_is_bounded_and_counted_and_never_blocks_the_writer(
    connect, client, tmp_path
):
    done, gate = tmp_path / "done", Gate(tmp_path)
    script = (
        rf"echo\ first;\ {gate.wait};\ head\ -c\ 1000000\ /dev/zero;\ touch\ {done};"
        r"\ sleep\ 30"
    )
    client.cmd(f"make process full bufsize=64k sh -c {script}")
    client.watch("w p dropped=1 full")
    assert client.batch()[0][3] == b"first\n"
    client.ack("hold full:out")
    gate.open()
    # held = unwatched for buffering: the writer runs to the end, the oldest chunks are dropped
    support.wait_for(lambda: os.path.exists(done), message="the writer not to block")
    info = processes(connect(), "full")["full"]
    dropped = int(info["dropped_out"])
    assert dropped > 0
    client.send("release full:out\n")
    records = client.batch()
    assert records[0][0] == "dropped" and records[0][3:] == ("out", str(dropped))
    kept = sum(len(r[3]) for r in records if r[0] == "out")
    assert kept <= 64 * 1024 + 65536 and dropped + kept == 1000006
    client.ack()


def test_exit_ends_a_hold_and_closed_comes_after_the_held_output(client, tmp_path):
    gate = Gate(tmp_path)
    client.cmd(rf"make process ex sh -c echo\ last\ words;\ {gate.wait};\ exit\ 3")
    client.watch("w p ex")
    assert client.batch()[0][3] == b"last words\n"
    client.ack("hold ex:out")  # never released: the exit releases it
    gate.open()
    records = client.batch()
    assert [r[0] for r in records] == ["out", "closed"] and records[0][3] == b"last words\n"
    client.ack("hold ex:out")  # the closed record is in this batch: the hold is ignored
    assert client.batch() == "Nothing left to watch"


def test_a_held_stream_is_redelivered_to_the_next_watcher(connect, client):
    client.cmd(r"make process k sh -c echo\ kept;\ sleep\ 30")
    first = connect()
    first.watch("w p k")
    assert first.batch()[0][3] == b"kept\n"
    first.ack("hold k:out")
    first.close()  # gone while holding: nothing was acknowledged
    second = connect()
    second.watch("w p k")
    assert second.batch()[0][3] == b"kept\n"
    second.ack()
