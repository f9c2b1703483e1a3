"""``circus.stream.file_stream`` of the original Circus, from :mod:`circus.streams.file_stream`."""

from circus.streams.file_stream import FileStream, TimedRotatingFileStream, WatchedFileStream

__all__ = ["FileStream", "TimedRotatingFileStream", "WatchedFileStream"]
