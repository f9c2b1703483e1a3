# The worker of the circusd integration tests, as support.WORKER_CMD runs it:
#     /bin/sh worker.sh PYTHON MODE ARGS...
# ``sleep`` (the mode most tests start, hundreds of times a run) and ``stubborn`` (the fleet
# clusters' and the graceful-timeout tests') are done here: they print what worker.py's would
# (``start PID ARGS``, ``stubborn PID``) and become /bin/sleep (a stubborn one ignoring SIGTERM
# first: an ignored signal stays ignored across exec), ~2 ms of CPU instead of a Python
# start's ~15. Every other mode is worker.py's, run by PYTHON -S in this process (exec: the
# same pid).
case $2 in
sleep)
    shift 2
    echo "start $$ $*"
    exec /bin/sleep infinity
    ;;
stubborn)
    trap '' TERM
    echo "stubborn $$"
    exec /bin/sleep infinity
    ;;
*)
    python=$1
    shift
    exec "$python" -S "${0%.sh}.py" "$@"
    ;;
esac
