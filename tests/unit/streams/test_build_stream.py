"""build_stream: class names, option conversion, and configuration errors."""

from __future__ import annotations

import sys
import textwrap

import pytest
from stream_support import msg

from circus.errors import ConfigError
from circus.streams import (
    FancyStdoutStream,
    FileStream,
    NullStream,
    QueueStream,
    StdoutStream,
    TimedRotatingFileStream,
    UserStream,
    WatchedFileStream,
    build_stream,
)


@pytest.fixture
def built():
    made = []

    def build(conf, **kwargs):
        stream = build_stream(conf, **kwargs)
        made.append(stream)
        return stream

    yield build
    for stream in made:
        stream.close()


def problems(conf, **kwargs):
    with pytest.raises(ConfigError) as info:
        build_stream(conf, **kwargs)
    return info.value.problems


def keys(conf, **kwargs):
    return [problem.key for problem in problems(conf, **kwargs)]


# --- class names --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("StdoutStream", StdoutStream),
        ("stdoutstream", StdoutStream),
        ("circus.stream.StdoutStream", StdoutStream),
        ("circus.streams.StdoutStream", StdoutStream),
        ("Circus.Stream.FancyStdoutStream", FancyStdoutStream),
        ("  QueueStream ", QueueStream),
        ("NULLSTREAM", NullStream),
        ("circus.streams.NullStream", NullStream),
    ],
)
def test_builtin_names(built, name, cls):
    assert type(built({"class": name})) is cls


@pytest.mark.parametrize(
    ("name", "cls", "extra"),
    [
        ("FileStream", FileStream, {}),
        ("filestream", FileStream, {}),
        ("circus.stream.WatchedFileStream", WatchedFileStream, {}),
        ("TimedRotatingFileStream", TimedRotatingFileStream, {"rotate_when": "midnight"}),
    ],
)
def test_builtin_file_streams(built, tmp_path, name, cls, extra):
    stream = built({"class": name, "filename": str(tmp_path / "x.log"), **extra})
    assert type(stream) is cls
    stream(msg(b"data\n"))
    assert (tmp_path / "x.log").read_bytes() == b"data\n"


def test_no_class_and_no_options_is_stdout(built):
    assert type(built({})) is StdoutStream
    assert type(built({"class": ""})) is StdoutStream


def test_no_class_with_a_filename_is_a_file_stream(built, tmp_path):
    assert type(built({"filename": str(tmp_path / "x")})) is FileStream


def test_a_class_object_is_accepted(built):
    assert type(built({"class": QueueStream, "maxsize": "3"})) is QueueStream


def test_a_ready_stream_object_is_used_as_is(built):
    queue = QueueStream()
    assert built({"stream": queue}) is queue


# --- option conversion ----------------------------------------------------------------------------


def test_ini_strings_are_converted(built, tmp_path):
    stream = built(
        {
            "class": "FileStream",
            "filename": str(tmp_path / "x"),
            "time_format": "%Y-%m-%d %H:%M:%S",
            "max_bytes": "1073741824",
            "backup_count": " 5 ",
        }
    )
    assert (stream.max_bytes, stream.backup_count, stream.time_format) == (
        1073741824,
        5,
        "%Y-%m-%d %H:%M:%S",
    )


@pytest.mark.parametrize(
    ("text", "value"), [("true", True), ("False", False), ("1", True), ("off", False)]
)
def test_utc_booleans(built, tmp_path, text, value):
    stream = built(
        {"class": "TimedRotatingFileStream", "filename": str(tmp_path / "t"), "utc": text}
    )
    assert stream.utc is value


def test_typed_values_from_the_library_api(built, tmp_path):
    stream = built(
        {
            "class": "TimedRotatingFileStream",
            "filename": tmp_path / "t",
            "backup_count": 2,
            "rotate_interval": 3,
            "rotate_when": "M",
            "utc": True,
        }
    )
    assert (stream.backup_count, stream.rotate_interval, stream.rotate_when, stream.utc) == (
        2,
        3,
        "M",
        True,
    )


def test_fancy_options(built):
    stream = built({"class": "FancyStdoutStream", "color": "Green", "time_format": "%H"})
    assert (stream.color, stream.time_format) == ("green", "%H")


def test_prefixed_keys_are_accepted(built, tmp_path):
    stream = built(
        {
            "stderr_stream.class": "FileStream",
            "stderr_stream.filename": str(tmp_path / "e"),
            "stderr_stream.max_bytes": "10",
            "stderr_stream.backup_count": "1",
        }
    )
    assert (type(stream), stream.max_bytes) == (FileStream, 10)


def test_obsolete_refresh_time_is_ignored(built, tmp_path):
    stream = built({"class": "FileStream", "filename": str(tmp_path / "x"), "refresh_time": "0.3"})
    assert type(stream) is FileStream


@pytest.mark.parametrize(
    "conf",
    [
        {"class": "StdoutStream", "time_format": "%H:%M:%S"},
        {"class": "StdoutStream", "filename": "x", "whatever": "1"},
        {"class": "FancyStdoutStream", "colour": "red"},
        {"class": "QueueStream", "time_format": "%H"},
        {"class": "NullStream", "max_bytes": "not a size"},
    ],
)
def test_options_a_class_does_not_take_are_ignored_as_the_original(built, conf):
    """The original's classes took **kwargs: a config passing the check must not fail later."""
    stream = built(dict(conf))
    assert type(stream).__name__ == conf["class"]


# --- errors ---------------------------------------------------------------------------------------


def test_unknown_class_suggests_the_close_builtin():
    [problem] = problems({"class": "FileStraem"}, prefix="stdout_stream")
    assert problem.key == "stdout_stream.class"
    assert problem.suggestion == "FileStream"
    assert "FileStraem" in str(problem)


def test_unknown_class_under_the_circus_prefix():
    [problem] = problems({"class": "circus.stream.Nope"}, prefix="stdout_stream")
    assert problem.key == "stdout_stream.class"
    assert "unknown stream class" in problem.message


def test_bad_values_are_all_reported_with_their_keys(tmp_path):
    conf = {
        "stdout_stream.class": "TimedRotatingFileStream",
        "stdout_stream.filename": str(tmp_path / "t"),
        "stdout_stream.backup_count": "-1",
        "stdout_stream.rotate_when": "hourly",
        "stdout_stream.rotate_interval": "0",
        "stdout_stream.utc": "perhaps",
        "stdout_stream.time_format": 12,
    }
    found = problems(conf)
    assert sorted(p.key for p in found) == [
        "stdout_stream.backup_count",
        "stdout_stream.rotate_interval",
        "stdout_stream.rotate_when",
        "stdout_stream.time_format",
        "stdout_stream.utc",
    ]
    by_key = {p.key: p.message for p in found}
    assert "expected a number >= 0" in by_key["stdout_stream.backup_count"]
    assert "midnight" in by_key["stdout_stream.rotate_when"]
    assert "boolean" in by_key["stdout_stream.utc"]


def test_max_bytes_error_names_the_key():
    found = problems(
        {"class": "FileStream", "filename": "x", "max_bytes": "1 gallon"}, prefix="stdout_stream"
    )
    assert [p.key for p in found] == ["stdout_stream.max_bytes"]
    assert "expected a size in bytes" in found[0].message


@pytest.mark.parametrize(
    ("text", "size"), [("512k", 512 * 1024), ("10M", 10 * 1024**2), ("1GiB", 1024**3)]
)
def test_max_bytes_with_units(built, tmp_path, text, size):
    stream = built({"class": "FileStream", "filename": str(tmp_path / "x"), "max_bytes": text})
    assert stream.max_bytes == size


def test_missing_filename():
    for name in ("FileStream", "WatchedFileStream", "TimedRotatingFileStream"):
        [problem] = problems({"class": name}, prefix="stderr_stream")
        assert problem.key == "stderr_stream.filename"
        assert "needs a filename" in problem.message


def test_unopenable_file_names_the_filename_key(tmp_path):
    [problem] = problems(
        {"class": "FileStream", "filename": str(tmp_path / "missing" / "x.log")},
        prefix="stdout_stream",
        section="watcher:web",
        file="circus.ini",
    )
    assert problem.key == "stdout_stream.filename"
    assert str(problem).startswith("circus.ini [watcher:web] stdout_stream.filename: ")
    assert "No such file or directory" in problem.message


def test_file_that_is_a_directory(tmp_path):
    [problem] = problems({"class": "FileStream", "filename": str(tmp_path)}, prefix="stdout_stream")
    assert problem.key == "stdout_stream.filename"
    assert "Is a directory" in problem.message


def test_mixed_prefixes_are_rejected():
    with pytest.raises(ConfigError, match="mixed"):
        build_stream({"stdout_stream.class": "FileStream", "stderr_stream.filename": "x"})


def test_default_key_prefix():
    assert keys({"class": "Nope"}) == ["stream.class"]


def test_ready_stream_must_be_callable_and_alone():
    assert keys({"stream": 42}, prefix="stdout_stream") == ["stdout_stream.stream"]
    assert keys({"stream": QueueStream(), "filename": "x"}) == ["stream.filename"]


def test_class_that_is_not_a_string_or_class():
    assert keys({"class": 12}) == ["stream.class"]


def test_error_message_is_a_readable_string_not_a_traceback():
    with pytest.raises(ConfigError) as info:
        build_stream({"class": "FileStream", "max_bytes": "lots"}, prefix="stdout_stream")
    text = str(info.value)
    assert "Traceback" not in text
    assert "stdout_stream.max_bytes: expected a size in bytes" in text
    assert "stdout_stream.filename: FileStream needs a filename" in text


# --- user classes -------------------------------------------------------------------------------


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """A user module ``mystreams`` importable from sys.path."""
    (tmp_path / "mystreams.py").write_text(
        textwrap.dedent("""
        class Collect:
            def __init__(self, tag="none", **options):
                self.tag, self.options, self.seen = tag, options, []
            def __call__(self, message):
                self.seen.append(message)

        class Full(Collect):
            closed = reopened = 0
            def close(self):
                self.closed += 1
            def reopen(self):
                self.reopened += 1

        class Picky:
            def __init__(self):
                pass
            def __call__(self, message):
                pass

        class Exploding:
            def __init__(self, **options):
                raise RuntimeError("no database")

        NOT_CALLABLE = 3

        class NotAStream:
            pass
        """)
    )
    (tmp_path / "brokenmod.py").write_text("raise ImportError('missing dependency foo')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    for name in ("mystreams", "brokenmod"):
        sys.modules.pop(name, None)


def test_user_class_gets_string_options(built, user_module):
    stream = built({"class": "mystreams.Collect", "tag": "x", "level": "3"})
    assert isinstance(stream, UserStream)
    assert (stream.tag, stream.options) == ("x", {"level": "3"})
    stream(msg(b"hi"))
    assert stream.seen == [msg(b"hi")]
    stream.close()  # provided by the adapter
    stream.reopen()


def test_user_class_with_close_and_reopen_is_not_wrapped(built, user_module):
    stream = built({"class": "mystreams.Full"})
    assert type(stream).__name__ == "Full"
    stream.reopen()
    assert stream.reopened == 1


def test_user_class_rejecting_options(user_module):
    [problem] = problems({"class": "mystreams.Picky", "color": "red"}, prefix="stdout_stream")
    assert problem.key == "stdout_stream.class"
    assert "Picky" in problem.message and "TypeError" in problem.message


def test_user_class_raising(user_module):
    [problem] = problems({"class": "mystreams.Exploding"})
    assert "RuntimeError: no database" in problem.message


def test_user_class_not_callable(user_module):
    assert "is not callable" in problems({"class": "mystreams.NOT_CALLABLE"})[0].message
    assert "not callable" in problems({"class": "mystreams.NotAStream"})[0].message


@pytest.mark.parametrize(
    ("path", "needle"),
    [
        ("nosuchmodule.Stream", "No module named 'nosuchmodule'"),
        ("mystreams.Missing", "has no attribute 'Missing'"),
        ("brokenmod.Stream", "missing dependency foo"),
    ],
)
def test_user_class_import_errors(user_module, path, needle):
    [problem] = problems({"class": path}, prefix="stdout_stream")
    assert problem.key == "stdout_stream.class"
    assert needle in problem.message


def test_none_values_mean_the_default(built, tmp_path):
    stream = built({"class": "FileStream", "filename": str(tmp_path / "x"), "max_bytes": None})
    assert stream.max_bytes == 0
    assert keys({"class": "FileStream", "filename": None}) == ["stream.filename"]


def test_user_stream_adapter_can_be_copied(built, user_module):
    import copy

    stream = built({"class": "mystreams.Collect"})
    assert copy.copy(stream).tag == "none"
