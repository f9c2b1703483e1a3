"""circus-convert on real supervisord.conf files: the sample that Supervisor's own
echo_supervisord_conf prints (with its sample sections switched on), a typical production file
with includes and groups; every result loads in circus's config loader, and a converted program
runs under a real circusd with its processes, environment, directory and log file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from support import Circusd, wait_for

from circus.config.loader import load_config
from circus.convert.supervisor import convert

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parents[3]
ECHO = ROOT / ".venv-supervisor" / "bin" / "echo_supervisord_conf"
# the sample's commented-out sections to switch on (the rest stay comments)
SAMPLE_SECTIONS = ("[program:theprogramname]", "[group:thegroupname]", "[include]")


def _sample(tmp_path: Path) -> Path:
    if not ECHO.exists():
        pytest.skip("Supervisor's venv is missing (make compat-venvs)")
    text = subprocess.run([str(ECHO)], capture_output=True, text=True, check=True).stdout
    lines, on = [], False
    for line in text.splitlines():
        if line.startswith(";["):
            on = line[1:].split(";")[0].strip() in SAMPLE_SECTIONS
        if on and line.startswith(";") and re.match(r";\s*(\[|\w+\s*=)", line):
            line = line[1:]
        lines.append(line)
    (tmp_path / "relative").mkdir()
    (tmp_path / "relative" / "directory").mkdir()
    (tmp_path / "relative" / "directory" / "extra.ini").write_text(
        "[program:extra]\ncommand=/bin/cat\n"
    )
    path = tmp_path / "supervisord.conf"
    path.write_text("\n".join(lines) + "\n")
    return path


def _load(tmp_path: Path, text: str, runtime_dir):
    out = tmp_path / "circus.ini"
    out.write_text(text)
    return load_config(out, import_names=False, log_warnings=False)


def test_echo_supervisord_conf_sample_converts_and_loads(tmp_path, runtime_dir):
    text, warnings = convert(str(_sample(tmp_path)))
    config = _load(tmp_path, text, runtime_dir)
    program = config.get_watcher("theprogramname")
    assert program.cmd == "/bin/cat"
    assert program.numprocesses == 1
    assert program.working_dir == "/tmp"
    assert program.uid == "chrism"
    assert program.priority == 0  # 999 - 999: Supervisor's default is Circus's
    assert program.max_retry == 3 and program.graceful_timeout == 10
    assert program.stop_signal == 3  # QUIT
    assert program.respawn is True and program.autostart is True
    assert program.stdout_stream.options["filename"] == "/a/path"
    assert program.stdout_stream.options["max_bytes"] == 1 << 20
    assert program.stdout_stream.options["backup_count"] == 10
    assert program.stderr_stream.options["filename"] == "/a/path"  # redirect_stderr=true
    assert (program.env["A"], program.env["B"]) == ("1", "2")
    assert config.get_watcher("extra").cmd == "/bin/cat"  # from [include] files
    assert any("group thegroupname: no [program:progname1]" in str(w) for w in warnings)
    assert config.circus.loglevel == "info"
    # what was not mapped is said, with its line
    said = "\n".join(str(w) for w in warnings)
    for expected in (r"supervisord\.conf:\d+: \[program:theprogramname\] umask",
                     r"\[program:theprogramname\] exitcodes",
                     r"stdout_capture_maxbytes", r"stderr_syslog", r"serverurl",
                     r"\[unix_http_server\]", r"autorestart=unexpected",
                     r"\[supervisord\] minfds"):  # fmt: skip
        assert re.search(expected, said), f"no warning for {expected}:\n{said}"


def test_production_file_with_includes_groups_and_expansions(tmp_path, runtime_dir):
    conf = tmp_path / "etc"
    (conf / "conf.d").mkdir(parents=True)
    (conf / "supervisord.conf").write_text(
        textwrap.dedent("""\
        [supervisord]
        logfile = /var/log/supervisor/supervisord.log
        loglevel = WARN
        environment = TZ="UTC",LANG="C.UTF-8"

        [include]
        files = conf.d/*.conf

        [group:web]
        programs = api,worker
        priority = 100
    """)
    )
    (conf / "conf.d" / "api.conf").write_text(
        textwrap.dedent("""\
        [program:api]
        command = %(here)s/../bin/api --port 80%(process_num)02d --name %(program_name)s
        process_name = %(program_name)s_%(process_num)02d
        numprocs = 4
        numprocs_start = 1
        directory = /srv/%(group_name)s
        environment = DB_URL="postgres://db/app",HOME="%(ENV_HOME)s"
        autorestart = true
        startsecs = 5
        stopsignal = INT
        stopwaitsecs = 30
        stopasgroup = true
        stdout_logfile = /var/log/api.log
        stdout_logfile_maxbytes = 10MB
        stdout_logfile_backups = 3
        stderr_logfile = NONE
    """)
    )
    (conf / "conf.d" / "worker.conf").write_text(
        textwrap.dedent("""\
        [program:worker]
        command = /srv/bin/worker
        autostart = false
        autorestart = false
    """)
    )
    text, warnings = convert(str(conf / "supervisord.conf"))
    config = _load(tmp_path, text, runtime_dir)
    api = config.get_watcher("api")
    # %(here)s is the directory of the file that holds the section, as Supervisor has it
    assert api.cmd.startswith(f"{conf}/conf.d/../bin/api --port 80$(circus.wid) --name api")
    assert api.numprocesses == 4 and api.working_dir == "/srv/web"
    assert api.priority == 899 and config.get_watcher("worker").priority == 899  # group's
    assert api.stop_signal == 2 and api.graceful_timeout == 30 and api.stop_children is True
    assert api.min_uptime == 5 and config.get_watcher("worker").min_uptime == 1  # startsecs
    assert api.stdout_stream.options["max_bytes"] == 10 << 20
    assert api.stdout_stream.options["backup_count"] == 3
    assert api.stderr_stream is None  # NONE
    assert api.env["DB_URL"] == "postgres://db/app"
    worker = config.get_watcher("worker")
    assert worker.autostart is False and worker.respawn is False
    assert config.circus.loglevel == "warn" or config.circus.loglevel == "warning"
    assert "TZ = UTC" in text and "[env]" in text
    said = "\n".join(str(w) for w in warnings)
    assert re.search(r"api\.conf:2: %\(process_num\)02d: the format is dropped", said), said
    assert "startsecs" not in said, said  # min_uptime
    assert "%(process_num)s counts from" not in said  # numprocs_start = 1: exact


def test_converted_program_runs_under_circusd(tmp_path, runtime_dir):
    log = tmp_path / "out.log"
    workdir = tmp_path / "work"
    workdir.mkdir()
    script = tmp_path / "echoer.py"
    script.write_text(
        "import os, sys, time\n"
        "os.write(1, f\"{sys.argv[1]} {os.getcwd()} {os.environ['COLOR']}\\n\".encode())\n"
        "time.sleep(600)\n"
    )
    sup = tmp_path / "supervisord.conf"
    # one os.write per line: print() writes its pieces one by one when PYTHONUNBUFFERED is set
    # (copy_env passes it on), and the two processes' pieces interleaved in the shared file
    sup.write_text(
        textwrap.dedent(f"""\
        [program:echoer]
        command = {sys.executable} {script} %(process_num)s
        numprocs = 2
        numprocs_start = 1
        directory = {workdir}
        environment = COLOR="blue"
        stdout_logfile = {log}
    """)
    )
    text, _warnings = convert(str(sup))
    body = text.split("[watcher:echoer]", 1)[1]
    d = Circusd(tmp_path / "d", "[watcher:echoer]" + body)
    try:
        d.start()
        wait_for(lambda: len(d.pids("echoer")) == 2, message="two processes")
        wait_for(lambda: log.exists() and len(log.read_text().splitlines()) == 2,
                 message="both lines in the log file")  # fmt: skip
        lines = sorted(log.read_text().splitlines())
        assert len(lines) == 2, lines
        assert [line.split()[0] for line in lines] == ["1", "2"]
        assert all(line.split()[1:] == [str(workdir), "blue"] for line in lines), lines
    finally:
        d.cleanup()


def _main(capsys, *args: str) -> tuple[int, str, str]:
    """circus-convert's main in this process: (exit status, stdout, stderr). Each behaviour
    below keeps one run of the real program."""
    from circus.cli.convert import main

    capsys.readouterr()
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_prints_ini_and_warnings(tmp_path, capsys):
    sup = tmp_path / "s.conf"
    sup.write_text("[program:a]\ncommand=/bin/true\nexitcodes=0,2\n")
    cli = [sys.executable, "-m", "circus.cli.convert"]
    out = subprocess.run([*cli, str(sup)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and "[watcher:a]" in out.stdout
    assert f"warning: {sup}:3: [program:a] exitcodes" in out.stderr
    assert _main(capsys, "--strict", str(sup))[0] == 1
    code, _, err = _main(capsys, str(tmp_path / "nope.conf"))
    assert code == 2 and "cannot read" in err


def test_supervisor_syntax_comments_repeats_dollars_and_levels(tmp_path, runtime_dir):
    """Read as Supervisor reads it (configparser with inline_comment_prefixes ';' and '#',
    strict=False): a '#' after a space starts a comment on any line of a value, an indented
    comment line inside a continued value is dropped, a repeated key keeps its LAST value; a
    literal '$' in environment stays literal; trace/blather log levels become debug."""
    sup = tmp_path / "supervisord.conf"
    sup.write_text(
        textwrap.dedent("""\
        [supervisord]
        loglevel = blather   # very verbose

        [program:web]
        command = /bin/echo hello  # the greeting
            world ; continued
            # an indented comment line
            again
        startretries = 3
        startretries = 7
        environment = PRICE="5$",SHELL_REF="$HOME",HOME_COPY="%(ENV_HOME)s"
        stopsignal = TERM # a comment
    """)
    )
    text, warnings = convert(str(sup))
    config = _load(tmp_path, text, runtime_dir)
    web = config.get_watcher("web")
    assert web.cmd.split() == ["/bin/echo", "hello", "world", "again"], web.cmd
    assert web.max_retry == 7  # Supervisor's value: the last one
    assert web.stop_signal == 15
    assert web.env["PRICE"] == "5$" and web.env["SHELL_REF"] == "$HOME"
    assert web.env["HOME_COPY"] == os.environ["HOME"]
    assert config.circus.loglevel == "debug"
    said = "\n".join(str(w) for w in warnings)
    assert "duplicate key" not in said, said
    assert re.search(r"supervisord\.conf:2: loglevel=blather: .*debug", said), said


def test_cli_names_the_file_it_cannot_read_or_write(tmp_path, capsys):
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "binary.conf").write_bytes(b"[program:x]\ncommand = \xd0\xff\n")
    sup = tmp_path / "supervisord.conf"
    sup.write_text("[include]\nfiles = conf.d/*.conf\n")
    cli = [sys.executable, "-m", "circus.cli.convert", str(sup)]
    out = subprocess.run(cli, capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert f"cannot read {tmp_path / 'conf.d' / 'binary.conf'}: " in out.stderr, out.stderr
    (tmp_path / "conf.d" / "binary.conf").unlink()
    unwritable = tmp_path / "missing" / "circus.ini"
    code, _, err = _main(capsys, str(sup), "-o", str(unwritable))
    assert code == 2 and f"cannot write {unwritable}: No such file or directory" in err, err


def test_environment_is_split_as_supervisor_splits_it(tmp_path, runtime_dir):
    """Supervisor's own rule (datatypes.dict_of_key_value_pairs: a shlex split, single or
    double quotes around a value that holds commas)."""
    sup = tmp_path / "supervisord.conf"
    sup.write_text(
        "[program:a]\ncommand = /bin/true\n"
        "environment = A='x,y',B=2,URL=\"http://h:80/?a=b,c\",HOME_COPY=%(ENV_HOME)s,N=%(process_num)s\n"
    )
    text, warnings = convert(str(sup))
    env = _load(tmp_path, text, runtime_dir).get_watcher("a").env
    assert (env["A"], env["B"], env["URL"]) == ("x,y", "2", "http://h:80/?a=b,c")
    assert env["HOME_COPY"] == os.environ["HOME"]
    assert "N = $(circus.wid)" in text
    assert not [w for w in warnings if "environment" in w.message], warnings


def test_an_env_expansion_of_an_unset_variable_is_a_warning(tmp_path, monkeypatch):
    """Supervisor refuses %(ENV_X)s when X is not set; circus would leave $(circus.env.x)
    verbatim in the command. Converting where X is unset says so, at its line."""
    monkeypatch.delenv("CIRCUS_CONVERT_UNSET", raising=False)
    sup = tmp_path / "supervisord.conf"
    sup.write_text("[program:a]\ncommand = /bin/echo %(ENV_CIRCUS_CONVERT_UNSET)s\n")
    text, warnings = convert(str(sup))
    assert "cmd = /bin/echo $(circus.env.circus_convert_unset)" in text
    said = "\n".join(str(w) for w in warnings)
    assert (
        "supervisord.conf:2: %(ENV_CIRCUS_CONVERT_UNSET)s: CIRCUS_CONVERT_UNSET is not set" in said
    ), said
