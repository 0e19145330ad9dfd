"""A user app for integration tests, run as its own process: `python testapp.py PORT`.

Endpoints (GET or POST):
  /            "hello"                         /echo   JSON of method, path, headers, body length, body sha
  /sleep?ms=N  sleeps, then "slept"            /order?id=X  records X in arrival order, sleeps ?ms
  /busy        JSON {"now": N, "max": M}: /sleep requests running now, and the most ever at once
  /log         JSON list of recorded ids       /count  number of requests seen (probes would show here)
  /status?code=N   that status                 /stream?n=N&ms=M  N chunks, M ms apart
  /stall       headers, one chunk, then hangs  /drop   closes the connection without answering
  /ws          WebSocket echo                  /big?n=N  N bytes, Content-Length framed
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys

from aiohttp import WSMsgType, web

state = {"count": 0, "log": [], "busy": 0, "max_busy": 0}


@web.middleware
async def counting(request, handler):
    state["count"] += 1
    return await handler(request)


async def hello(request):
    return web.Response(text="hello")


async def echo(request):
    body = await request.read()
    return web.json_response(
        {
            "method": request.method,
            "path": request.path_qs,
            "version": f"{request.version.major}.{request.version.minor}",
            "headers": [[k, v] for k, v in request.headers.items()],
            "length": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
        }
    )


async def sleep(request):
    state["busy"] += 1
    state["max_busy"] = max(state["max_busy"], state["busy"])
    try:
        await asyncio.sleep(int(request.query.get("ms", "100")) / 1000)
    finally:
        state["busy"] -= 1
    return web.Response(text="slept")


async def busy(request):
    return web.json_response({"now": state["busy"], "max": state["max_busy"]})


async def order(request):
    state["log"].append(request.query["id"])
    await asyncio.sleep(int(request.query.get("ms", "0")) / 1000)
    return web.Response(text=request.query["id"])


async def log(request):
    return web.json_response(state["log"])


async def count(request):
    return web.Response(text=str(state["count"]))


async def status(request):
    return web.Response(status=int(request.query.get("code", "200")), text="status")


async def stream(request):
    resp = web.StreamResponse()
    await resp.prepare(request)
    for i in range(int(request.query.get("n", "3"))):
        await resp.write(f"chunk{i}\n".encode())
        await asyncio.sleep(int(request.query.get("ms", "10")) / 1000)
    await resp.write_eof()
    return resp


async def stall(request):
    resp = web.StreamResponse()
    await resp.prepare(request)
    await resp.write(b"started\n")
    await asyncio.sleep(3600)
    return resp


async def drop(request):
    request.transport.abort()
    await asyncio.sleep(3600)


async def big(request):
    return web.Response(body=b"x" * int(request.query.get("n", "1048576")))


async def ws(request):
    sock = web.WebSocketResponse()
    await sock.prepare(request)
    async for msg in sock:
        if msg.type == WSMsgType.TEXT:
            await sock.send_str("echo:" + msg.data)
    return sock


def app() -> web.Application:
    a = web.Application(middlewares=[counting], client_max_size=64 * 1024 * 1024)
    for path, handler in {
        "/": hello,
        "/echo": echo,
        "/sleep": sleep,
        "/busy": busy,
        "/order": order,
        "/log": log,
        "/count": count,
        "/status": status,
        "/stream": stream,
        "/stall": stall,
        "/drop": drop,
        "/big": big,
        "/ws": ws,
    }.items():
        a.router.add_route("*", path, handler)
    return a


if __name__ == "__main__":
    port = int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", "8080"))
    web.run_app(app(), host="127.0.0.1", port=port, print=None, access_log=None)
