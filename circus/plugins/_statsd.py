"""Kept for code written against the original (``circus.plugins._statsd.StatsdEmitter``)."""

from circus.plugins.statsd import StatsdEmitter

__all__ = ["StatsdEmitter"]
