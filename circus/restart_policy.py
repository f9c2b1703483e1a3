"""The restart policy of a watcher: declared data and pure decisions.

Like a systemd unit's ``Restart=``/``StartLimit*`` or supervisor's ``startsecs``/``startretries``,
the policy is *data* (:class:`RestartPolicy`, built from the watcher's configuration) plus
*pure functions* that take the policy, the current :class:`RestartState` and what just happened,
and return the next state. They do nothing: :class:`circus.watcher.Watcher` asks them and does
the effects (waits until :attr:`RestartState.retry_at` before spawning; stops the watcher,
logs once and publishes ``watcher.<name>.gave_up`` when :attr:`RestartState.gave_up` is set).
To change the back-off or what counts as a failed start, change this file only.

The rules (``../shared/DESIGN.md``)
-----------------------------------
- A **failed start** is a spawn error, or a process that exits on its own less than
  ``min_uptime`` (the watcher's option, 1 s by default) after its spawn. A death by
  SIGKILL/TERM/INT/QUIT/HUP (somebody sent it: an operator, a deploy script, the OOM killer) is
  not; neither is the exit of a process adopted after a restart of circusd (its start was not
  ours to judge).
- Failed starts are retried after a back-off: ``first_delay`` (0.1 s), doubling, capped by
  ``retry_in`` (``0``: at once).
- After ``max_retry`` failed starts in a row (at least 1; ``-1``: never) the watcher **gives up**:
  :attr:`RestartState.gave_up` says why (:class:`GaveUp`). A **successful start** ends the row
  (the count starts again from 0, the back-off from ``first_delay``): a process spawned since
  the last counted failure (of the current round) that stayed up ``min_uptime``, however it
  ended later (on its own, killed, or still running). An exit on its own after ``min_uptime``
  of any process ends the row too (as before).
- **Settled lazily, with no timer.** Nothing happens at ``spawn + min_uptime``: a retry proves
  its start when the policy next looks, which is enough because the count only matters when a
  failure is counted. At that failure, the watcher's live processes are passed in
  (``running``: round and uptime of each, read only then, so once per round); a process that
  dies first is judged at its exit (:func:`after_uptime`: it stayed up ``min_uptime`` whether
  it exited on its own or was killed). So :attr:`RestartState.failures` may still show the old
  count while a retry runs fine; the next failure starts from 0. A timer per spawn would keep
  the number current but give the watcher one more handle per process to arm and cancel.
- **One failure per retry round.** Failures are counted per watcher, but the failures of
  processes spawned in the same round count once: a broken deploy that makes 10 processes
  crash together is one failed start, retried after one back-off, not 10 failures that exhaust
  ``max_retry`` before a single retry. A round is the span between two counted failures
  (:attr:`RestartState.round`): each process is stamped with the round it was spawned in, and
  its failure counts only if no failure was counted since its spawn. Processes that crash
  at slightly different times are therefore still one round; a process of an old round that
  fails late is respawned (after the back-off in force) without moving the count.

Flapping (the original's flapping plugin)
-----------------------------------------
With a ``[plugin:NAME]`` section using ``circus.plugins.flapping.Flapping``
(:mod:`circus.config.flapping`), :attr:`RestartPolicy.flapping` is a :class:`FlappingRule`:

- Every exit of a process that the watcher did not ask to stop (``requested``: a stop, a
  reload, ``decr``, ``max_age`` are not deaths) and whose exit code is known (processes that
  vanished with a lost kernel are not) is put in a sliding window, the loop times of
  the last ``attempts`` exits (:attr:`RestartState.exits`). When it holds ``attempts`` exits at
  most ``window`` seconds apart, the watcher is **flapping** (:func:`is_flapping`).
- Flapping, with fewer than ``max_retry`` retries in a row so far (``-1``: no limit):
  :attr:`RestartState.flapping` says so (:class:`Flapping`); the watcher stops as a ``stop``
  would, publishes ``watcher.<name>.flapping`` and starts again ``retry_in`` seconds after the
  detection, with :func:`after_flapping_pause` (a fresh row of failed starts; the count of
  flapping retries kept). ``max_retry`` retries later, still flapping: it **gives up** for good
  (``GaveUp(rule="flapping")``, the ``gave_up`` path above). A window of ``attempts`` exits
  spread over more than ``window`` seconds ends the row of retries (the original's rule).
- An operator's ``start`` or ``stop`` ends it all (``RestartState()``).

Both rules run on every exit: the failed-start rule first (a watcher that gives up by
``max_retry`` does not also flap), then flapping, which takes over when it fires. With the
defaults (2 exits within 1 s) a crash loop is flapping at its second exit, long before
``max_retry`` failed starts; the back-off applies between the exits of one run.
"""

from __future__ import annotations

import signal
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from circus.config import flapping
from circus.config.model import DEFAULT_MAX_RETRY, DEFAULT_MIN_UPTIME, DEFAULT_RETRY_IN
from papa_kernel import records
from papa_kernel.records import frozen_record

if TYPE_CHECKING:
    from circus.config import PluginConfig, WatcherConfig

#: ``(round spawned in, uptime so far)`` of each live process of the watcher; uptime None:
#: unknown (adopted).
Running = Iterable[tuple[int, float | None]]

#: A process that dies on its own sooner than this after its spawn failed to start (seconds):
#: the default of the watcher's ``min_uptime``.
MIN_UPTIME = DEFAULT_MIN_UPTIME
#: First delay before retrying a failed start (seconds); doubled each time, capped by retry_in.
FIRST_RETRY_DELAY = 0.1
#: Exit codes (negative signal numbers) of processes killed by a signal somebody sent: never a
#: failed start, and the kill does not end a row of failed starts either (the start before it
#: may have: :func:`after_uptime`).
KILLED_FROM_OUTSIDE = frozenset(
    -int(sig)
    for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP)
)


@frozen_record
class FlappingRule:
    """``attempts`` exits within ``window`` seconds is flapping: stop, start again after
    ``retry_in`` seconds, at most ``max_retry`` times in a row (-1: always). The manual's
    defaults (:data:`circus.config.flapping.DEFAULTS`)."""

    attempts: int = flapping.DEFAULTS["attempts"]
    window: float = flapping.DEFAULTS["window"]
    retry_in: float = flapping.DEFAULTS["retry_in"]
    max_retry: int = flapping.DEFAULTS["max_retry"]


@frozen_record
class RestartPolicy:
    """What a watcher declares about restarting its processes."""

    retry_in: float = DEFAULT_RETRY_IN  # longest back-off (seconds); 0: retry at once
    max_retry: int = DEFAULT_MAX_RETRY  # failed starts in a row before giving up; -1: never
    min_uptime: float = MIN_UPTIME
    first_delay: float = FIRST_RETRY_DELAY
    killed_from_outside: frozenset[int] = KILLED_FROM_OUTSIDE
    flapping: FlappingRule | None = None  # None: no flapping detection

    @classmethod
    def from_config(
        cls, config: WatcherConfig, plugins: Iterable[PluginConfig] = ()
    ) -> RestartPolicy:
        """The policy of a :class:`~circus.config.model.WatcherConfig` (``retry_in``,
        ``max_retry``, ``min_uptime``; the rest are constants of this module) and, with a
        flapping plugin among ``plugins`` (the :class:`~circus.config.model.PluginConfig` of
        the configuration), its flapping rule (:func:`circus.config.flapping.flapping_settings`)."""
        settings = flapping.flapping_settings(plugins, config)
        return cls(
            retry_in=float(config.retry_in),
            max_retry=int(config.max_retry),
            min_uptime=float(config.min_uptime),
            flapping=None if settings is None else FlappingRule(**settings),
        )


@frozen_record
class GaveUp:
    """Why a watcher gave up: shown in ``status``/``stats`` and in the ``gave_up`` event."""

    rule: str  # which rule gave up: "max_retry" or "flapping"
    failures: int  # failed starts in a row (flapping: times found flapping in a row)
    limit: int  # the rule's limit (max_retry, or the flapping rule's max_retry)
    last_exit: int | None  # exit code of the last failure (-N: signal N); None: spawn error
    error: str | None  # the spawn error, if the last failure was one
    time: float  # epoch seconds
    min_uptime: float = MIN_UPTIME  # the policy's, for the reason (not in the wire form)

    @classmethod
    def refused_by(cls, hook: str, wall: float) -> GaveUp:
        """The ``before_start`` hook ``hook`` (its dotted path) refused the start at ``wall``
        (epoch seconds): shown as the watcher's reason to be stopped, as a give-up is, until
        the next start."""
        return cls("before_start", 1, 1, None, f"the before_start hook ({hook})", wall)

    @property
    def reason(self) -> str:
        """One line for people: ``3 failed starts in a row (max_retry = 3), last: exit code 1``,
        ``flapping 6 times in a row (flapping.max_retry = 5), last: exit code 1``, ``the
        before_start hook (myapp.hooks.check_db) refused the start``."""
        if self.rule == "before_start":
            return f"{self.error} refused the start"
        if self.rule == "flapping":
            times = "once" if self.failures == 1 else f"{self.failures} times in a row"
            return f"flapping {times} (flapping.max_retry = {self.limit}), last: {self.last()}"
        starts = "failed start" if self.failures == 1 else "failed starts in a row"
        text = f"{self.failures} {starts} ({self.rule} = {self.limit}), last: {self.last()}"
        if self.error is None and self.last_exit == 0:  # reads like a success: say why not
            text += (
                f" within {self.min_uptime:g} s of its start (a program that ends by itself needs "
                "respawn = false)"
            )
        return text

    def last(self) -> str:
        if self.error is not None:
            return f"spawn error: {self.error}"
        if self.last_exit is not None and self.last_exit < 0:
            try:
                return f"killed by {signal.Signals(-self.last_exit).name}"
            except ValueError:
                return f"killed by signal {-self.last_exit}"
        return f"exit code {self.last_exit}"

    def as_dict(self) -> dict[str, Any]:
        """The wire form (status/stats detail and event payload): the fields (not
        ``min_uptime``) plus ``reason``."""
        fields = records.asdict(self)
        del fields["min_uptime"]
        return {**fields, "reason": self.reason}


@frozen_record
class Flapping:
    """A watcher found flapping: it stops, and starts again ``retry_in`` seconds after
    ``time``. Shown in ``status``/``stats`` and in the ``flapping`` event (:meth:`as_dict`)."""

    retry: int  # the number of the coming retry (1: the first)
    max_retry: int  # the rule's max_retry (-1: no limit)
    exits: int  # the rule's attempts: how many exits were seen...
    within: float  # ...within this many seconds (first to last)
    window: float  # the rule's window
    retry_in: float  # seconds from the detection to the retry
    last_exit: int | None  # exit code of the last exit (-N: signal N)
    time: float  # epoch seconds of the detection
    at: float = records.field(default=0.0, compare=False)  # loop time of the detection

    @property
    def retry_at(self) -> float:
        """Epoch seconds of the retry."""
        return self.time + self.retry_in

    @property
    def reason(self) -> str:
        """One line for people: ``2 exits within 0.1 s (flapping.window = 1 s), retry 1 of 5 in
        7 s``."""
        of = "" if self.max_retry < 0 else f" of {self.max_retry}"
        return (
            f"{self.exits} exits within {_seconds(self.within)} s (flapping.window = "
            f"{_seconds(self.window)} s), retry {self.retry}{of} in {_seconds(self.retry_in)} s"
        )

    def as_dict(self) -> dict[str, Any]:
        """The wire form: the fields (not ``at``, a loop time) plus ``retry_at`` and
        ``reason``."""
        fields = records.asdict(self)
        del fields["at"]
        return {**fields, "retry_at": self.retry_at, "reason": self.reason}


@frozen_record
class RestartState:
    """Where a watcher stands in its policy (reset by a start: ``RestartState()``)."""

    failures: int = 0  # failed starts in a row (counted once per round)
    round: int = 0  # bumped by each counted failure; processes are stamped with it at spawn
    retry_at: float = 0.0  # loop time before which no process is spawned (the back-off)
    gave_up: GaveUp | None = None  # set once the watcher must give up; final until a start
    exits: tuple[float, ...] = ()  # loop times of the last exits (at most flapping.attempts)
    flapping_retries: int = 0  # flapping retries in a row (kept by after_flapping_pause)
    flapping: Flapping | None = None  # found flapping: stop, start again after retry_in


def is_failed_start(policy: RestartPolicy, exit_code: int | None, uptime: float | None) -> bool:
    """Did a process that exited with ``exit_code`` after ``uptime`` seconds fail to start?
    ``uptime`` None: unknown (an adopted process), never a failed start."""
    if uptime is None or exit_code in policy.killed_from_outside:
        return False
    return uptime < policy.min_uptime


def proves_a_start(
    policy: RestartPolicy, state: RestartState, spawned_in: int, uptime: float | None
) -> bool:
    """Does a process of round ``spawned_in``, up for ``uptime`` seconds (alive, or at its
    exit), show that a retry worked? Spawned since the last counted failure and up
    ``min_uptime``."""
    return spawned_in == state.round and uptime is not None and uptime >= policy.min_uptime


def retry_delay(policy: RestartPolicy, failures: int) -> float:
    """The back-off after the ``failures``-th failed start in a row (``failures`` >= 1)."""
    return min(policy.first_delay * 2 ** (failures - 1), policy.retry_in)


def gives_up(policy: RestartPolicy, failures: int) -> bool:
    """``failures`` failed starts in a row are too many (``max_retry``, at least 1; -1: never)."""
    return policy.max_retry >= 0 and failures >= max(policy.max_retry, 1)


def is_flapping(rule: FlappingRule, exits: tuple[float, ...]) -> bool:
    """Do the loop times of the last exits show flapping: ``attempts`` of them at most
    ``window`` seconds apart?"""
    return len(exits) >= rule.attempts and exits[-1] - exits[-rule.attempts] <= rule.window


def after_exit(
    policy: RestartPolicy,
    state: RestartState,
    *,
    exit_code: int | None,
    uptime: float | None,
    spawned_in: int,
    now: float,
    wall: float,
    running: Running = (),
    requested: bool = False,
) -> RestartState:
    """The state after a process of round ``spawned_in`` exited with ``exit_code`` after
    ``uptime`` seconds (``now``: loop time, ``wall``: epoch). A failed start is counted (if
    its round is the current one; from 0 if one of the ``running`` processes proves a
    start), a clean run ends the row, a kill changes nothing (its start, see
    :func:`after_uptime`). Then, unless the watcher asked the process to stop
    (``requested``) or its exit code is unknown (None: it vanished with a lost kernel, which
    took every process at once), the exit counts for the flapping rule
    (:func:`after_flapping_exit`)."""
    if is_failed_start(policy, exit_code, uptime):
        state = _failed(
            policy, state, spawned_in, now, wall, running, exit_code=exit_code, error=None
        )
    elif exit_code not in policy.killed_from_outside and state.gave_up is None:
        state = records.replace(state, failures=0)
    if policy.flapping is None or requested or exit_code is None:
        return state
    return after_flapping_exit(policy.flapping, state, exit_code=exit_code, now=now, wall=wall)


def after_flapping_exit(
    rule: FlappingRule, state: RestartState, *, exit_code: int | None, now: float, wall: float
) -> RestartState:
    """The flapping rule after an exit at loop time ``now`` (``wall``: epoch): the exit joins
    the window; flapping sets :attr:`RestartState.flapping` (stop, retry after ``retry_in``),
    or gives up after ``max_retry`` retries in a row; a full window that is not flapping ends
    the row of retries. Nothing changes once the watcher gave up or is found flapping."""
    if state.gave_up is not None or state.flapping is not None:
        return state
    exits = (*state.exits, now)[-rule.attempts :]
    if len(exits) < rule.attempts:
        return records.replace(state, exits=exits)
    if not is_flapping(rule, exits):
        return records.replace(state, exits=exits, flapping_retries=0)
    retries = state.flapping_retries
    if 0 <= rule.max_retry <= retries:
        gave_up = GaveUp("flapping", retries + 1, rule.max_retry, exit_code, None, wall)
        return records.replace(state, exits=(), retry_at=now, gave_up=gave_up)
    found = Flapping(
        retry=retries + 1,
        max_retry=rule.max_retry,
        exits=rule.attempts,
        within=round(exits[-1] - exits[0], 6),
        window=rule.window,
        retry_in=rule.retry_in,
        last_exit=exit_code,
        time=wall,
        at=now,
    )
    return records.replace(
        state,
        round=state.round + 1,  # later failures of the processes it stops do not count
        retry_at=now,  # stop at once, not after a back-off
        exits=(),
        flapping_retries=retries + 1,
        flapping=found,
    )


def after_flapping_pause(state: RestartState) -> RestartState:
    """The state to start again with once the pause of a flapping watcher is over: a fresh
    row of failed starts and an empty window, the count of flapping retries kept."""
    return RestartState(flapping_retries=state.flapping_retries)


def after_spawn_error(
    policy: RestartPolicy,
    state: RestartState,
    *,
    error: str,
    spawned_in: int,
    now: float,
    wall: float,
    running: Running = (),
) -> RestartState:
    """The state after a spawn attempted in round ``spawned_in`` failed with ``error``
    (``running``: as for :func:`after_exit`)."""
    return _failed(policy, state, spawned_in, now, wall, running, exit_code=None, error=error)


def after_uptime(
    policy: RestartPolicy, state: RestartState, *, spawned_in: int, uptime: float | None
) -> RestartState:
    """The state once a process of round ``spawned_in`` ended after ``uptime`` seconds,
    whatever ended it: if it proves a start (:func:`proves_a_start`), the row ends."""
    if state.gave_up is not None or not state.failures:
        return state
    if not proves_a_start(policy, state, spawned_in, uptime):
        return state
    return records.replace(state, failures=0)


def _failed(
    policy: RestartPolicy,
    state: RestartState,
    spawned_in: int,
    now: float,
    wall: float,
    running: Running,
    *,
    exit_code: int | None,
    error: str | None,
) -> RestartState:
    if state.gave_up is not None or spawned_in != state.round:
        return state  # final until a start / this round's failure is already counted
    in_a_row = state.failures
    if in_a_row and any(proves_a_start(policy, state, r, up) for r, up in running):
        in_a_row = 0  # a retry since the last failure stayed up: that row ended
    failures = in_a_row + 1
    gave_up = None
    if gives_up(policy, failures):
        gave_up = GaveUp(
            "max_retry", failures, policy.max_retry, exit_code, error, wall, policy.min_uptime
        )
    return records.replace(
        state,
        failures=failures,
        round=state.round + 1,
        retry_at=now + retry_delay(policy, failures),
        gave_up=gave_up,
    )


def _seconds(value: float) -> str:
    """``1``, ``0.25``, ``0.15`` (a measured 0.147484), ``0.005``, ``12.35``: seconds as
    people write them (two decimals, or two significant digits below one second)."""
    return f"{value:.2g}" if abs(value) < 1 else f"{round(value, 2):g}"
