"""A loopback TCP proxy that adds a fixed one-way delay to every byte it relays.

Used by bench/verify_throughput.py to put a local registry "20 ms away": each direction is a
queue of (due time, chunk), so the delay is latency, not bandwidth (chunks keep flowing while
earlier ones wait). Delay applied on the way back only, so a request/response round trip costs
exactly `delay` more.
"""

from __future__ import annotations

import asyncio
import time


class LatencyProxy:
    def __init__(self, upstream_host: str, upstream_port: int, delay: float) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.delay = delay
        self.connections = 0
        self._server: asyncio.base_events.Server | None = None
        self.port = 0

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, client_reader, client_writer) -> None:
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            self._pipe(client_reader, up_writer, 0.0),
            self._pipe(up_reader, client_writer, self.delay),
            return_exceptions=True,
        )

    @staticmethod
    async def _pipe(reader, writer, delay: float) -> None:
        queue: asyncio.Queue = asyncio.Queue()

        async def pump() -> None:
            while True:
                data = await reader.read(65536)
                await queue.put((time.monotonic() + delay, data))
                if not data:
                    return

        async def drain() -> None:
            while True:
                due, data = await queue.get()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    try:
                        writer.write_eof()
                    except (OSError, RuntimeError):
                        pass
                    return
                writer.write(data)
                await writer.drain()

        try:
            await asyncio.gather(pump(), drain())
        except (ConnectionError, OSError):
            pass
        finally:
            try:
                writer.close()
            except Exception:
                pass


def main() -> None:
    """`python bench/latency_proxy.py HOST PORT DELAY_SECONDS`: prints the listening port, serves."""
    import sys

    host, port, delay = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])

    async def serve() -> None:
        proxy = LatencyProxy(host, port, delay)
        print(await proxy.start(), flush=True)
        await asyncio.Event().wait()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
