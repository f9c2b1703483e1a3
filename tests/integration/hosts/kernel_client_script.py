"""A circusd stand-in for the redelivery test: watch with a KernelHost, print what arrives, and
never finish handling it (so nothing is acknowledged). The test SIGKILLs this process.

Usage: python kernel_client_script.py ENDPOINT
"""

import asyncio
import sys

from circus.hosts.base import OutputChunk
from circus.hosts.kernel import KernelHost


async def main(endpoint: str) -> None:
    host = KernelHost(endpoint)

    async def stuck_handler(batch) -> None:
        for event in batch:
            if isinstance(event, OutputChunk):
                print(f"got {event.name} {event.timestamp!r} {event.data!r}", flush=True)
        await asyncio.Event().wait()  # never returns: the batch stays unacknowledged

    await host.open(stuck_handler)
    print("watching", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
