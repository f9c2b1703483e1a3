"""The INI syntax (as the original's strict parser) and include/include_dir."""

from __future__ import annotations

import os

import pytest


def test_comments_continuations_and_empty_values(load):
    config = load(
        """
        # a comment
        ; another
        rem a REM line
        [watcher:w]
        cmd = python   ; inline comment after whitespace
        args = -c "print(1);print(2)"
           --verbose
           --more
        working_dir = ""
        stop_signal : INT
        shell_args = -x#not a comment
        """
    )
    watcher = config.watchers[0]
    assert watcher.cmd == "python"
    assert watcher.args == '-c "print(1);print(2)"\n--verbose\n--more'
    assert watcher.working_dir is None
    assert watcher.stop_signal == 2
    assert watcher.shell_args == "-x#not a comment"


def test_first_value_wins_with_a_warning_naming_both(load):
    config = load("[watcher:w]\ncmd = first\nnumprocesses = 2\ncmd = second\n")
    assert config.watchers[0].cmd == "first"
    (warning,) = config.warnings
    assert (warning.line, warning.key) == (4, "cmd")
    assert "circus.ini:2" in warning.message


def test_repeated_sections_merge(load):
    config = load("[watcher:w]\ncmd = x\n[socket:s]\nport = 1\n[watcher:w]\nnumprocesses = 3\n")
    assert config.watchers[0].numprocesses == 3


def test_a_section_repeated_in_one_file_is_named_with_both_lines(load):
    # a copied [watcher:a] whose name was not changed: it was reported only as "duplicate key"
    # lines (or not at all when the copy set other keys), and the second watcher was missing
    config = load("[watcher:a]\ncmd = x\nnumprocesses = 2\n\n[watcher:a]\ncmd = y\n")
    assert [w.name for w in config.watchers] == ["a"] and config.watchers[0].cmd == "x"
    (section,) = [w for w in config.warnings if w.key is None]
    assert (section.line, section.section) == (5, "watcher:a"), section
    assert section.message.startswith("duplicate section (first at line 1): merged into the first")
    (key,) = [w for w in config.warnings if w.key is not None]
    assert (key.line, key.key) == (6, "cmd")
    quiet = load("[watcher:a]\ncmd = x\n[watcher:a]\nnumprocesses = 3\n")
    assert [(w.line, w.section, w.key) for w in quiet.warnings] == [(3, "watcher:a", None)]


def test_syntax_errors_are_all_reported_with_lines(load):
    problems = load.problems(
        """\
        [watcher:w]
        cmd = x
        just words
        = value
        [broken
        [watcher:v] trailing
        []
        """
    )
    assert [p.line for p in problems] == [3, 4, 5, 6, 7]
    messages = [str(p) for p in problems]
    assert "circus.ini:3 [watcher:w]: expected 'key = value'" in messages[0]
    assert "missing key name" in messages[1]
    assert "has no closing ']'" in messages[2]
    assert "unexpected text after the section header" in messages[3]
    assert "empty section name" in messages[4]
    # the kind of problem and the line, never the content of the line
    assert not any(word in m for m in messages for word in ("just words", "broken", "trailing"))


def test_text_before_the_first_header_means_not_ini(load):
    (problem,) = load.problems("# comment\n\norphan = 1\n[watcher:w]\ncmd = x\n")
    assert (problem.line, problem.section) == (3, None)
    assert "not an INI file" in problem.message and "orphan" not in str(problem)


SECRET = "$6$Zb8RrtQ1$SECRETHASH0123456789abcdef"


def test_an_included_file_that_is_not_ini_is_never_echoed(load, tmp_path):
    """``include = /etc/shadow``: the error names the file, the line and the kind of problem;
    no line of the file appears in any message or warning."""
    shadow = tmp_path / "shadow"
    shadow.write_text(
        f"root:{SECRET}:19000:0:99999:7:::\n"
        f"[daemon:*:19000:0:99999:7:::\n"
        f"bin = {SECRET}\n"
        f"[{SECRET}] x\n"
        f"sync:{SECRET}:19000:0:99999:7:::\n"
    )
    error = load.error(f"[circus]\ninclude = {shadow}\n[watcher:w]\ncmd = x\n")
    texts = [str(p) for p in (*error.problems, *error.warnings)]
    assert texts and not any(SECRET in t or "daemon" in t or "sync" in t for t in texts), texts
    (problem,) = error.problems
    assert (problem.file, problem.line) == (str(shadow), 1)
    assert "not an INI file" in problem.message


def test_a_secret_after_a_broken_header_is_not_echoed(load):
    problems = load.problems(f"[watcher:w]\ncmd = x\n[{SECRET}\n{SECRET}\nk {SECRET}\n")
    assert [p.line for p in problems] == [3]
    assert not any(SECRET in str(p) for p in problems)


def test_continuation_of_an_empty_first_line(load):
    config = load("[watcher:w]\ncmd =\n  sleep\n[watcher:v]\ncmd =\n  sleep\n  10\n")
    assert {w.name: w.cmd for w in config.watchers} == {"w": "sleep", "v": "sleep\n10"}


def test_nul_and_bad_utf8(load, tmp_path):
    (problem,) = load.problems("[watcher:w]\ncmd = a\x00b\n")
    assert problem.line == 2 and "NUL" in problem.message
    path = tmp_path / "bad.ini"
    path.write_bytes(b"[watcher:w]\ncmd = x\nargs = \xff\n")
    from circus.config import load_config
    from circus.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems[0].line == 3
    assert "UTF-8" in info.value.problems[0].message


def test_missing_file_and_directory(tmp_path):
    from circus.config import load_config
    from circus.errors import ConfigError

    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.ini")
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)


def test_unknown_and_empty_sections_warn(load):
    config = load("[wacther:w]\ncmd = x\n[watcher:empty]\n[Circus]\ndebug = 1\n")
    warnings = {w.section: w for w in config.warnings}
    assert warnings["wacther:w"].suggestion == "watcher:w"
    assert warnings["Circus"].suggestion == "circus"
    assert "empty section" in warnings["watcher:empty"].message
    assert config.watchers == ()


# --- includes ------------------------------------------------------------------------------------


def test_include_globs_relative_to_the_including_file(load):
    load.write("[watcher:a]\ncmd = a\n", "conf.d/a.ini")
    load.write("[watcher:b]\ncmd = b\n[circus]\ninclude = sub/*.ini\n", "conf.d/b.ini")
    load.write("[watcher:c]\ncmd = c\n", "conf.d/sub/c.ini")
    load.write("[watcher:d]\ncmd = d\n", "deep/x/y/d.ini")
    config = load("[circus]\ninclude = conf.d/*.ini deep/**/*.ini\n")
    assert [w.name for w in config.watchers] == ["a", "b", "c", "d"]
    assert [os.path.basename(f) for f in config.files] == [
        "circus.ini",
        "a.ini",
        "b.ini",
        "c.ini",
        "d.ini",
    ]


def test_include_dir(load):
    load.write("[watcher:a]\ncmd = a\n", "extra/a.ini")
    load.write("[watcher:z]\ncmd = z\n", "extra/z.conf")
    config = load("[circus]\ninclude_dir = extra\n")
    assert [w.name for w in config.watchers] == ["a"]


def test_include_dir_must_exist(load):
    (problem,) = load.problems("[circus]\ninclude_dir = nowhere\n")
    assert (problem.line, problem.key) == (2, "include_dir")
    assert "not a directory" in problem.message


def test_the_including_file_wins(load):
    """The original's first-wins: an include adds keys, never overrides the main file."""
    load.write(
        "[circus]\ncheck_delay = 555\nendpoint = tcp://127.0.0.1:1\n[env:w]\nINI = included\n",
        "inc.ini",
    )
    config = load(
        "[circus]\ninclude = inc.ini\nendpoint = tcp://127.0.0.1:2\n"
        "[watcher:w]\ncmd = x\n[env:w]\nINI = main\n"
    )
    assert config.circus.check_delay == 555
    assert config.circus.endpoint == "tcp://127.0.0.1:2"
    assert config.watchers[0].env["INI"] == "main"
    assert {w.key for w in config.warnings} == {"endpoint", "INI"}


def test_missing_literal_include_is_an_error_but_an_empty_glob_a_warning(load):
    (problem,) = load.problems("[circus]\ninclude = missing.ini\n")
    assert problem.key == "include" and "does not exist" in problem.message
    config = load("[circus]\ninclude = nothing/*.ini\n")
    assert "matches no file" in config.warnings[0].message


def test_include_loops_are_errors_naming_the_chain(load):
    load.write("[circus]\ninclude = b.ini\n", "a.ini")
    load.write("[circus]\ninclude = a.ini\n", "b.ini")
    (problem,) = load.problems("[circus]\ninclude = a.ini\n")
    assert "include loop" in problem.message
    assert problem.message.count("a.ini") == 2 and "b.ini" in problem.message
    assert problem.file.endswith("b.ini") and problem.line == 2


def test_self_include_directly_is_a_loop_but_a_glob_matching_itself_is_skipped(load):
    load.write("[watcher:x]\ncmd = x\n", "x.ini")
    config = load("[circus]\ninclude = *.ini\n")
    assert [w.name for w in config.watchers] == ["x"]
    (problem,) = load.problems("[circus]\ninclude = circus.ini\n")
    assert "include loop" in problem.message


def test_a_file_included_twice_is_read_once(load):
    load.write("[watcher:x]\ncmd = x\n", "x.ini")
    load.write("[circus]\ninclude = x.ini\n", "y.ini")
    config = load("[circus]\ninclude = x.ini y.ini\n")
    assert config.warnings == ()
    assert len(config.files) == 3


def test_errors_in_included_files_name_them(load):
    load.write("[watcher:x]\ncmd = x\nnumprocesses = many\n", "inc/x.ini")
    (problem,) = load.problems("[circus]\ninclude = inc/x.ini\n")
    assert problem.file.endswith("inc/x.ini") and problem.line == 3
    assert str(problem).endswith(
        "x.ini:3 [watcher:x] numprocesses: expected an integer, got 'many'"
    )


def test_include_paths_see_environment_variables(load, environ):
    load.write("[watcher:x]\ncmd = x\n", "tester/x.ini")
    config = load("[circus]\ninclude = $(circus.env.user)/x.ini\n", environ)
    assert config.watchers[0].name == "x"


def test_unreadable_include(load, tmp_path):
    (tmp_path / "dir.ini").mkdir()
    config = load("[circus]\ninclude = *.ini\n")  # directories are skipped by globs
    assert config.watchers == ()
