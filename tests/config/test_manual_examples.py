"""Every example configuration of the manual parses to the model it describes."""

from __future__ import annotations

import signal

from circus.config import HookSpec, PluginConfig, SocketConfig, StreamConfig, WatcherConfig


def test_minimal_example(load):
    config = load(
        """
        [watcher:program]
        cmd = python myprogram.py
        numprocesses = 5

        [watcher:anotherprogram]
        cmd = another_program
        numprocesses = 2

        [socket:mysocket]
        host = localhost
        port = 8080
        """
    )
    assert config.watchers == (
        WatcherConfig(name="anotherprogram", cmd="another_program", numprocesses=2),
        WatcherConfig(name="program", cmd="python myprogram.py", numprocesses=5),
    )
    assert config.sockets == (SocketConfig(name="mysocket"),)
    assert config.warnings == ()


def test_tutorial_example(load):
    config = load(
        """
        [circus]
        statsd = 1
        httpd = 1

        [watcher:webapp]
        cmd = bin/chaussette --fd $(circus.sockets.web)
        numprocesses = 3
        use_sockets = True

        [socket:web]
        host = 127.0.0.1
        port = 9999
        """
    )
    assert config.circus.statsd and config.circus.httpd
    # statsd = 1 and httpd = 1: circusd-stats and circushttpd are (support) watchers
    stats, httpd, watcher = config.watchers
    assert stats.name == "circusd-stats" and not stats.use_papa
    assert httpd.name == "circushttpd" and not httpd.use_papa
    assert watcher.socket_refs == {"web"} and watcher.use_sockets and watcher.numprocesses == 3
    assert config.sockets == (SocketConfig(name="web", host="127.0.0.1", port=9999),)


def test_supervisor_comparison_example(load):
    config = load(
        """
        [watcher:example]
        cmd=npm start
        working_dir=/home/www/my-server/
        user=www-data
        stderr_stream.class=StdoutStream
        """
    )
    (watcher,) = config.watchers
    assert watcher.working_dir == "/home/www/my-server/"
    assert watcher.stderr_stream == StreamConfig("StdoutStream")
    assert watcher.options == {"user": "www-data"}  # not a Circus key: a warning suggests 'uid'
    assert [(w.key, w.suggestion) for w in config.warnings] == [("user", "uid")]


def test_configuration_chapter_example(load, environ):
    load.write("[watcher:extra]\ncmd = extra\n", "x.more.config.ini")
    config = load(
        """
        [circus]
        check_delay = 5
        endpoint = tcp://127.0.0.1:5555
        pubsub_endpoint = tcp://127.0.0.1:5556
        include = *.more.config.ini
        umask = 002

        [watcher:myprogram]
        cmd = python
        args = -u myprogram.py $(circus.wid) $(CIRCUS.ENV.VAR)
        warmup_delay = 0
        numprocesses = 5

        # hook
        hooks.before_start = my.hooks.control_redis

        # will push in test.log the stream every 300 ms
        stdout_stream.class = FileStream
        stdout_stream.filename = test.log

        # optionally rotate the log file when it reaches 1 gb
        # and save 5 copied of rotated files
        stdout_stream.max_bytes = 1073741824
        stdout_stream.backup_count = 5

        [env:myprogram]
        PATH = $PATH:/bin
        CAKE = lie

        [plugin:statsd]
        use = circus.plugins.statsd.StatsdEmitter
        host = localhost
        port = 8125
        sample_rate = 1.0
        application_name = example

        [socket:web]
        host = localhost
        port = 8080
        """,
        environ,
    )
    assert config.circus.check_delay == 5.0 and config.circus.umask == 0o002
    assert config.circus.endpoint == "tcp://127.0.0.1:5555"
    # [plugin:statsd] runs as the support watcher plugin:statsd (a direct child of circusd)
    assert [w.name for w in config.watchers] == ["extra", "myprogram", "plugin:statsd"]
    assert not config.get_watcher("plugin:statsd").use_papa
    watcher = config.get_watcher("myprogram")
    assert watcher.cmd == "python"
    assert watcher.args == "-u myprogram.py $(circus.wid) $(CIRCUS.ENV.VAR)"
    assert watcher.hooks == {"before_start": HookSpec("my.hooks.control_redis", False)}
    assert watcher.stdout_stream == StreamConfig(
        "FileStream", {"filename": "test.log", "max_bytes": 1073741824, "backup_count": 5}
    )
    assert watcher.env == {"PATH": environ["PATH"] + ":/bin", "CAKE": "lie"}
    assert config.plugins == (
        PluginConfig(
            "statsd",
            "circus.plugins.statsd.StatsdEmitter",
            {
                "host": "localhost",
                "port": "8125",
                "sample_rate": "1.0",
                "application_name": "example",
            },
        ),
    )
    # VAR is not set in this environment: left as written, with a warning at its line
    (warning,) = config.warnings
    assert (warning.section, warning.key) == ("watcher:myprogram", "args")
    assert warning.message.startswith("placeholder $(CIRCUS.ENV.VAR) left as written")


def test_sockets_chapter_examples(load):
    config = load(
        """
        [circus]
        check_delay = 5
        endpoint = tcp://127.0.0.1:5555
        pubsub_endpoint = tcp://127.0.0.1:5556
        stats_endpoint = tcp://127.0.0.1:5557

        [watcher:dummy]
        cmd = mycoolscript $(circus.sockets.foo)
        use_sockets = True
        warmup_delay = 0
        numprocesses = 5

        [watcher:alt]
        cmd = mycoolscript ((circus.sockets.foo))
        use_sockets = True

        [socket:foo]
        host = 127.0.0.1
        port = 8888
        """
    )
    assert config.circus.statsd  # stats_endpoint without statsd turns it on (with a warning)
    (warning,) = [w for w in config.warnings if w.key == "stats_endpoint"]
    assert warning.message == (  # says what happens, and how to say it in the file
        "stats_endpoint implies statsd = true (set statsd = true or false in [circus] to "
        "silence this warning)"
    )
    assert "circusd-stats" in [w.name for w in config.watchers]
    assert all(w.socket_refs == {"foo"} for w in config.watchers if w.name != "circusd-stats")


def test_chaussette_example_binds_all_interfaces(load):
    config = load(
        """
        [watcher:web]
        cmd = chaussette --fd $(circus.sockets.web) --backend meinheld mycool.app
        use_sockets = True
        numprocesses = 5

        [socket:web]
        host = 0.0.0.0
        port = 8000
        """
    )
    assert config.sockets[0].host == "0.0.0.0"


def test_webworker_and_django_examples(load):
    config = load(
        """
        [socket:dwebapp]
        host = 127.0.0.1
        port = 8080

        [watcher:dwebworker]
        cmd = chaussette --fd $(circus.sockets.dwebapp) dproject.wsgi.application
        use_sockets = True
        numprocesses = 2

        [env:dwebworker]
        PYTHONPATH = /path/to/parent-of-dproject

        [watcher:dbackend]
        cmd = /path/to/script.py
        numprocesses=3

        [env:dbackend]
        PYTHONPATH = /path/to/parent-of-dproject
        DJANGO_SETTINGS_MODULE=dproject.settings
        """
    )
    backend, worker = config.watchers
    assert backend.env == {
        "PYTHONPATH": "/path/to/parent-of-dproject",
        "DJANGO_SETTINGS_MODULE": "dproject.settings",
    }
    assert worker.env == {"PYTHONPATH": "/path/to/parent-of-dproject"}
    assert backend.numprocesses == 3


def test_papa_chapter_example(load):
    config = load(
        """
        [circus]
        loglevel = info

        [watcher:nginx]
        cmd = /usr/local/nginx/sbin/nginx -p /srv/conf/nginx -c /srv/conf/nginx/nginx.conf
        warmup_delay = 3
        graceful_timeout = 10
        max_retry = 5
        singleton = true
        send_hup = true
        stop_signal = QUIT
        stdout_stream.class = FileStream
        stdout_stream.filename = /var/logs/web-server.log
        stdout_stream.max_bytes = 10000000
        stdout_stream.backup_count = 10
        stderr_stream.class = FileStream
        stderr_stream.filename = /var/logs/web-server-error.log
        stderr_stream.max_bytes = 1000000
        stderr_stream.backup_count = 10
        active = true
        use_papa = true

        [watcher:web_app]
        cmd = /my_service/env/bin/uwsgi --ini uwsgi-live.ini --socket fd://$(circus.sockets.web)
            --stats 127.0.0.1:809$(circus.wid)
        working_dir = /my_service/web_app
        graceful_timeout=10
        stop_signal = QUIT
        use_sockets = True
        hooks.after_spawn = examples.uwsgi_lossless_reload.children_started
        hooks.before_signal = examples.uwsgi_lossless_reload.clean_stop
        hooks.extended_stats = examples.uwsgi_lossless_reload.extended_stats
        priority = 40
        use_papa = true

        [socket:web]
        path = /my_service/sock/uwsgi
        use_papa = true

        [plugin:flapping]
        use = circus.plugins.flapping.Flapping
        window = 10
        priority = 1000
        """
    )
    nginx, web_app = config.watchers
    assert (nginx.singleton, nginx.send_hup, nginx.stop_signal) == (True, True, signal.SIGQUIT)
    assert nginx.warmup_delay == 3.0 and nginx.graceful_timeout == 10.0
    assert nginx.options == {"active": "true"}
    # `active` is kept for plugins; no nonsense suggestion ("hooks.active" is no hook)
    (active,) = [w for w in config.warnings if w.key == "active"]
    assert active.suggestion is None, active
    assert set(web_app.hooks) == {"after_spawn", "before_signal", "extended_stats"}
    assert web_app.priority == 40 and web_app.use_papa
    assert config.sockets == (
        SocketConfig(name="web", path="/my_service/sock/uwsgi", family="unix"),
    )
    assert config.plugins[0].priority == 1000
    assert config.circus.loglevel == "info"


def test_flapping_override_and_resource_watcher_examples(load):
    config = load(
        """
        [circus]
        ; ...

        [watcher:nginx]
        cmd = /path/to/nginx
        flapping.max_retry = 2

        [watcher:myscript]
        cmd = ./my_script.py

        [watcher:program]
        cmd = sleep 120

        [plugin:flapping]
        use = circus.plugins.flapping.Flapping
        max_retry = 5

        [plugin:myplugin]
        use = circus.plugins.resource_watcher.ResourceWatcher
        watcher = program
        min_cpu = 10
        max_cpu = 70
        min_mem = 0
        max_mem = 20
        """
    )
    assert config.get_watcher("nginx").flapping == {"max_retry": 2}
    assert config.get_plugin("myplugin").config["watcher"] == "program"


def test_hooks_chapter_example(load):
    config = load(
        """
        [watcher:queue-worker]
        cmd = python -u worker.py
        hooks.before_start = mycoolapp.myplugins.check_redis
        priority = 1

        [watcher:redis]
        cmd = redis-server
        priority = 2
        """
    )
    worker, redis = config.watchers
    assert worker.hooks["before_start"] == ("mycoolapp.myplugins.check_redis", False)
    assert (worker.priority, redis.priority) == (1, 2)


def test_security_chapter_ipc_example(load):
    config = load(
        """
        [circus]
        check_delay = 5
        endpoint = ipc:///var/circus/endpoint
        pubsub_endpoint = ipc:///var/circus/pubsub
        stats_endpoint = ipc:///var/circus/stats
        httpd = 1
        """
    )
    assert config.circus.endpoint == "ipc:///var/circus/endpoint"
    assert config.circus.httpd


def test_troubleshooting_examples(load):
    config = load(
        """
        [watcher:webapp]
        cmd = python -m myapp.wsgi
        warmup_delay = 5
        stdout_stream.class = StdoutStream
        stderr_stream.class = StdoutStream
        """
    )
    (watcher,) = config.watchers
    assert watcher.warmup_delay == 5.0
    assert watcher.stdout_stream == watcher.stderr_stream == StreamConfig("StdoutStream")


def test_stream_chapter_examples(load):
    config = load(
        """
        [watcher:a]
        cmd = python -m myapp.server
        stdout_stream.class = WatchedFileStream
        stdout_stream.filename = test.log
        stdout_stream.time_format = %Y-%m-%d %H:%M:%S

        [watcher:b]
        cmd = python -m myapp.server
        stdout_stream.class = FancyStdoutStream
        stdout_stream.color = green
        stdout_stream.time_format = %Y/%m/%d | %H:%M:%S
        """
    )
    a, b = config.watchers
    assert a.stdout_stream.options["time_format"] == "%Y-%m-%d %H:%M:%S"
    assert b.stdout_stream.options == {"color": "green", "time_format": "%Y/%m/%d | %H:%M:%S"}
