"""``circus.consumer`` of the original Circus.

Its ``CircusConsumer(topics, endpoint=...)`` is replaced by
:class:`circus.events.EventSubscriber` ``(endpoint, topics)``, which yields ``(topic, payload)``
with the JSON payload already decoded and stops after ``timeout`` seconds without events.
"""

from circus.util.compat import facade

_MISSING = {
    "CircusConsumer": "use circus.events.EventSubscriber(endpoint, topics) (payloads are "
    "decoded; see docs/library.md)",
}
__getattr__, __dir__ = facade(__name__, {}, _MISSING)
