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
  ``min_uptime`` (1 s) after its spawn. A death by SIGKILL/TERM/INT/QUIT/HUP (somebody sent it:
  an operator, a deploy script, the OOM killer) is not; neither is the exit of a process adopted
  after a restart of circusd (its start was not ours to judge).
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

Plugging flapping in (the next issue)
-------------------------------------
The flapping plugin of the original (``attempts`` deaths within ``window`` seconds: wait
``retry_in``, then start again; give up after ``max_retry`` such rounds) is one more rule in the
same decision, with no change to the watcher:

1. :class:`RestartPolicy` gains ``flapping: FlappingRule | None`` (``attempts``, ``window``,
   ``retry_in``, ``max_retry``), filled by :meth:`RestartPolicy.from_config` from the
   ``[plugin:flapping]`` defaults and the watcher's ``flapping.*`` overrides when
   ``check_flapping`` is on.
2. :class:`RestartState` gains the window: the loop times of the last ``attempts`` exits, and
   the number of flapping rounds.
3. :func:`after_exit` appends every exit to the window; ``attempts`` exits within ``window``
   set ``retry_at = now + flapping.retry_in`` (the watcher already waits for ``retry_at``), and
   after ``flapping.max_retry`` rounds a ``GaveUp(rule="flapping", ...)`` (the watcher already
   stops, logs and publishes ``gave_up`` with it). The ``rule`` field tells the two apart.
"""

from __future__ import annotations

import dataclasses
import signal
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

#: ``(round spawned in, uptime so far)`` of each live process of the watcher; uptime None:
#: unknown (adopted).
Running = Iterable[tuple[int, float | None]]

#: A process that dies on its own sooner than this after its spawn failed to start (seconds).
MIN_UPTIME = 1.0
#: First delay before retrying a failed start (seconds); doubled each time, capped by retry_in.
FIRST_RETRY_DELAY = 0.1
#: Exit codes (negative signal numbers) of processes killed by a signal somebody sent: never a
#: failed start, and the kill does not end a row of failed starts either (the start before it
#: may have: :func:`after_uptime`).
KILLED_FROM_OUTSIDE = frozenset(
    -int(sig)
    for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP)
)


@dataclass(frozen=True)
class RestartPolicy:
    """What a watcher declares about restarting its processes."""

    retry_in: float = 7.0  # longest back-off (seconds); 0: retry at once
    max_retry: int = 5  # failed starts in a row before giving up; -1: never
    min_uptime: float = MIN_UPTIME
    first_delay: float = FIRST_RETRY_DELAY
    killed_from_outside: frozenset[int] = KILLED_FROM_OUTSIDE

    @classmethod
    def from_config(cls, config: Any) -> RestartPolicy:
        """The policy of a :class:`~circus.config.model.WatcherConfig` (``retry_in``,
        ``max_retry``; the rest are constants of this module)."""
        return cls(retry_in=float(config.retry_in), max_retry=int(config.max_retry))


@dataclass(frozen=True)
class GaveUp:
    """Why a watcher gave up: shown in ``status``/``stats`` and in the ``gave_up`` event."""

    rule: str  # which rule gave up: "max_retry" (the flapping plugin will add "flapping")
    failures: int  # failed starts in a row
    limit: int  # the rule's limit (max_retry)
    last_exit: int | None  # exit code of the last failure (-N: signal N); None: spawn error
    error: str | None  # the spawn error, if the last failure was one
    time: float  # epoch seconds

    @property
    def reason(self) -> str:
        """One line for people: ``3 failed starts in a row (max_retry = 3), last: exit code 1``."""
        starts = "failed start" if self.failures == 1 else "failed starts in a row"
        return f"{self.failures} {starts} ({self.rule} = {self.limit}), last: {self.last()}"

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
        """The wire form (status/stats detail and event payload): the fields plus ``reason``."""
        return {**dataclasses.asdict(self), "reason": self.reason}


@dataclass(frozen=True)
class RestartState:
    """Where a watcher stands in its policy (reset by a start: ``RestartState()``)."""

    failures: int = 0  # failed starts in a row (counted once per round)
    round: int = 0  # bumped by each counted failure; processes are stamped with it at spawn
    retry_at: float = 0.0  # loop time before which no process is spawned (the back-off)
    gave_up: GaveUp | None = None  # set once the watcher must give up; final until a start


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
) -> RestartState:
    """The state after a process of round ``spawned_in`` exited with ``exit_code`` after
    ``uptime`` seconds (``now``: loop time, ``wall``: epoch). A failed start is counted (if
    its round is the current one; from 0 if one of the ``running`` processes proves a
    start), a clean run ends the row, a kill changes nothing (its start, see
    :func:`after_uptime`)."""
    if is_failed_start(policy, exit_code, uptime):
        return _failed(
            policy, state, spawned_in, now, wall, running, exit_code=exit_code, error=None
        )
    if exit_code in policy.killed_from_outside or state.gave_up is not None:
        return state
    return dataclasses.replace(state, failures=0)


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
    return dataclasses.replace(state, failures=0)


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
        gave_up = GaveUp("max_retry", failures, policy.max_retry, exit_code, error, wall)
    return RestartState(
        failures=failures,
        round=state.round + 1,
        retry_at=now + retry_delay(policy, failures),
        gave_up=gave_up,
    )
