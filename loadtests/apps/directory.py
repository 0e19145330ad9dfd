"""A directory server for benchmarks: serves one JSON snapshot file, long-polling as the control plane does.

    python loadtests/apps/directory.py --port 8099 --file snapshot.json

The snapshot is re-read when the file changes, so a benchmark can add a pod by
rewriting it (bump "version").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os

from aiohttp import web


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--file", required=True)
    args = p.parse_args()
    state = {"mtime": None, "doc": {"version": 0}}

    def current() -> dict:
        mtime = os.stat(args.file).st_mtime_ns
        if mtime != state["mtime"]:
            with open(args.file) as f:
                state["doc"] = json.load(f)
            state["mtime"] = mtime
        return state["doc"]

    async def directory(request: web.Request) -> web.Response:
        known = int(request.query.get("version", "-1"))
        deadline = asyncio.get_running_loop().time() + float(request.query.get("wait", "30"))
        # poll the file: benchmarks change it rarely, and 5 ms keeps the added delay small
        while current().get("version") == known and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.005)
        return web.json_response(current())

    app = web.Application()
    app.router.add_get("/directory", directory)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
