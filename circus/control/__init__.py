"""The control channel of circusd: controller (ZeroMQ ROUTER), message codec and commands."""
