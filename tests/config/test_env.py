"""[env] / [env:PATTERNS] sections and $(circus.env.X): the manual's examples and precedence."""

from __future__ import annotations


def test_env_applies_to_all_watchers(load):
    config = load(
        """
        [watcher:worker1]
        cmd = ping 127.0.0.1
        [watcher:worker2]
        cmd = ping 127.0.0.1
        [env]
        CAKE = lie
        """
    )
    assert [dict(w.env) for w in config.watchers] == [{"CAKE": "lie"}, {"CAKE": "lie"}]
    assert config.env == {"CAKE": "lie"}


def test_env_lists_combine_in_file_order(load, environ):
    config = load(
        """
        [watcher:worker1]
        cmd = ping 127.0.0.1
        [watcher:worker2]
        cmd = ping 127.0.0.1
        [env:worker1,worker2]
        PATH = /bin
        [env:worker1]
        PATH = $PATH
        [env:worker2]
        CAKE = lie
        """,
        environ,
    )
    worker1, worker2 = config.watchers
    assert worker1.env == {"PATH": environ["PATH"]}  # expanded from circusd's environment
    assert worker2.env == {"PATH": "/bin", "CAKE": "lie"}


def test_env_wildcards(load):
    config = load(
        """
        [watcher:worker1]
        cmd = ping 127.0.0.1
        [watcher:worker2]
        cmd = ping 127.0.0.1
        [watcher:other]
        cmd = ping 127.0.0.1
        [env:worker*]
        PATH = /bin
        [env:WORKER2]
        X = case-insensitive
        """
    )
    by_name = {w.name: dict(w.env) for w in config.watchers}
    assert by_name == {
        "other": {},
        "worker1": {"PATH": "/bin"},
        "worker2": {"PATH": "/bin", "X": "case-insensitive"},
    }


def test_circus_env_substitution_everywhere(load, environ):
    config = load(
        """
        [watcher:worker1]
        cmd = $(circus.env.shell)
        [watcher:worker2]
        cmd = run
        baz = $(circus.env.user)
        bar = $(circus.env.yeah)
        sup = $(circus.env.oh)
        [socket:socket1]
        port = $(circus.env.port)
        [plugin:plugin1]
        use = some.path
        parameter1 = $(circus.env.plugin_param)
        [env]
        yeah = boo
        port = 8888
        plugin_param = p
        [env:worker2]
        oh = ok
        """,
        environ,
    )
    plugin1, worker1, worker2 = config.watchers
    assert plugin1.name == "plugin:plugin1"
    assert worker1.cmd == environ["Shell"]  # case-insensitive lookup
    assert dict(worker2.options) == {"baz": "tester", "bar": "boo", "sup": "ok"}
    assert config.sockets[0].port == 8888
    assert config.plugins[0].config["parameter1"] == "p"


def test_most_specialised_value_wins(load):
    environ = {"V": "from-os", "W": "os-only"}
    config = load(
        """
        [watcher:a]
        cmd = echo $(circus.env.v) $(circus.env.w)
        [watcher:b]
        cmd = echo $(circus.env.v)
        [watcher:c]
        cmd = echo $(CIRCUS.ENV.V)
        [env]
        V = from-env
        [env:a]
        V = from-env-a
        [env:c]
        V = from-env-c-first
        [env:c*]
        V = from-env-c-later
        """,
        environ,
    )
    a, b, c = config.watchers
    assert a.cmd == "echo from-env-a os-only"
    assert b.cmd == "echo from-env"
    assert c.cmd == "echo from-env-c-later"


def test_unknown_placeholders_are_kept(load):
    config = load(
        "[watcher:w]\n"
        "cmd = run $(circus.env.nope) $(circus.wid) ((circus.sockets.web)) $(circus.x)\n"
        "use_sockets = true\n[socket:web]\nport = 0\n",
        {},
    )
    assert (
        config.watchers[0].cmd
        == "run $(circus.env.nope) $(circus.wid) ((circus.sockets.web)) $(circus.x)"
    )


def test_bash_style_expansion(load):
    environ = {"PATH": "/usr/bin", "HOME": "/home/t", "lower": "l"}
    config = load(
        """
        [watcher:w]
        cmd = x
        [env:w]
        P = $PATH:/opt/bin
        Q = ${HOME}/lib:$lower
        R = $UNDEFINED-end
        S = cost: $$5
        T = $(circus.env.home)/x
        """,
        environ,
    )
    assert dict(config.watchers[0].env) == {
        "P": "/usr/bin:/opt/bin",
        "Q": "/home/t/lib:l",
        "R": "-end",
        "S": "cost: $5",
        "T": "/home/t/x",
    }


def test_env_sections_see_the_global_env_for_circus_env(load):
    config = load("[watcher:w]\ncmd = x\n[env]\nA = 1\n[env:w]\nB = $(circus.env.a)2\n", {})
    assert dict(config.watchers[0].env) == {"A": "1", "B": "12"}


def test_copy_env(load, environ):
    config = load(
        "[watcher:w]\ncmd = x\ncopy_env = true\n[env]\nEXTRA = 1\n[env:w]\nHOME = /elsewhere\n",
        environ,
    )
    assert dict(config.watchers[0].env) == {**environ, "EXTRA": "1", "HOME": "/elsewhere"}


def test_env_keys_keep_case(load):
    config = load("[watcher:w]\ncmd = x\n[env]\nhttp_proxy = a\nHTTPS_PROXY = b\n")
    assert dict(config.watchers[0].env) == {"http_proxy": "a", "HTTPS_PROXY": "b"}


def test_env_pattern_matching_nothing_warns(load):
    config = load("[watcher:worker1]\ncmd = x\n[env:wroker1]\nA = 1\n")
    (warning,) = config.warnings
    assert "matches no watcher" in warning.message
    assert warning.suggestion == "env:worker1"


def test_env_pattern_for_a_support_watcher_is_applied_without_a_warning(load):
    # [env:plugin:NAME] applies to the plugin's watcher (added after the file's own watchers):
    # it matched nothing of the file's watchers, so it was said to match no watcher
    config = load(
        "[watcher:w]\ncmd = x\n[plugin:tick]\nuse = some.module.Tick\n"
        "[env:plugin:tick]\nTICK_LEVEL = 3\n"
    )
    plugin = config.get_watcher("plugin:tick")
    assert plugin.env["TICK_LEVEL"] == "3"
    assert config.warnings == ()


def test_bad_env_names(load):
    (problem,) = load.problems("[watcher:w]\ncmd = x\n[env]\nA B = 1\n")
    assert (
        problem.section == "env"
        and problem.line == 4
        and "invalid environment variable name" in problem.message
    )
    (problem,) = load.problems("[watcher:w]\ncmd = x\n[env:]\nA = 1\n")
    assert "names no watcher pattern" in problem.message


def test_a_placeholder_left_as_written_is_a_warning_at_its_line(load):
    # `$(circus.foo)` and an unset `$(circus.env.X)` are left as written (as the original
    # does), which nothing said: the worker got the text and failed later, far from the file
    config = load(
        "[watcher:w]\n"  # 1
        "cmd = run $(circus.env.nope) $(circus.wid) ((circus.sockets.web)) $(circus.x)\n"  # 2
        "args = --n $(circus.numprocesses) $(circus.env.virtual_env) $(circus.env.home)\n"  # 3
        "working_dir = /srv/$(circus.wid)\n"  # 4: replaced in cmd, args and shell_args only
        "use_sockets = true\n"
        "[socket:web]\n"  # 6
        "port = 0\n"
        "host = $(circus.env.host_addr)\n"  # 8
        "[circus]\n"
        "check_delay = 5\n"
        "logoutput = /var/log/$(circus.name).log\n",  # 11
        {"HOME": "/home/t"},
    )
    assert config.watchers[0].cmd.endswith("$(circus.x)")  # still left as written
    said = sorted((w.line, w.key, w.message) for w in config.warnings if "placeholder" in w.message)
    assert [(line, key) for line, key, _ in said] == [
        (2, "cmd"),
        (2, "cmd"),
        (4, "working_dir"),
        (8, "host"),
        (11, "logoutput"),
    ], said
    messages = [message for _, _, message in said]
    assert any(m.startswith("placeholder $(circus.env.nope) left as written: nope is not set in")
               for m in messages), messages  # fmt: skip
    assert any(m.startswith("placeholder $(circus.x) left as written: it names no variable")
               for m in messages), messages  # fmt: skip
    assert any("$(circus.wid) left as written: only $(circus.env.NAME) is replaced in "
               "working_dir" in m for m in messages), messages  # fmt: skip
