#!/usr/bin/env python3
"""A source that refuses Range, for scripts/bench-wan: an HTTP/1.1 relay in front of a registry
that drops every `Range` header, so blob GETs are answered 200 with the whole blob, as by a
server that ignores Range.

    norange.py LISTEN_HOST:PORT UPSTREAM_HOST:PORT

One request per connection (`Connection: close` is forced both ways), so the relay never parses
a response; bodies are relayed in 1 MiB reads. Only for benchmarks on a private namespace.
"""
import asyncio
import sys

READ = 1 << 20


async def pipe(reader, writer):
    try:
        while True:
            data = await reader.read(READ)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def handle(creader, cwriter, upstream):
    try:
        head = await creader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        cwriter.close()
        return
    lines = head.split(b"\r\n")
    kept = [lines[0]]
    for line in lines[1:]:
        name = line.split(b":", 1)[0].strip().lower()
        if name in (b"range", b"connection", b"keep-alive"):
            continue
        if line:
            kept.append(line)
    kept.append(b"Connection: close")
    host, port = upstream.rsplit(":", 1)
    try:
        ureader, uwriter = await asyncio.open_connection(host, int(port))
    except OSError:
        cwriter.close()
        return
    uwriter.write(b"\r\n".join(kept) + b"\r\n\r\n")
    await uwriter.drain()
    # A request body (uploads are not sent here, but be correct) and the answer.
    await asyncio.gather(pipe(creader, uwriter), pipe(ureader, cwriter))


async def main():
    listen, upstream = sys.argv[1], sys.argv[2]
    host, port = listen.rsplit(":", 1)
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, upstream), host, int(port), limit=1 << 16
    )
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
