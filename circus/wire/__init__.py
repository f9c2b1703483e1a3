"""What circusd and its ZeroMQ peers share on the wire, below both the control channel and the
event publisher: bounded JSON decoding (:mod:`~circus.wire.boundedjson`) and endpoint
security, ipc file ownership and CURVE (:mod:`~circus.wire.security`)."""
