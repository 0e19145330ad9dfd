"""A small app that crashes on request: GET /crash makes it (and every later start) exit 1.

It serves on $PORT. GET /crash writes the file named by $CRASH_MARKER and
exits at once; while that file exists the app logs a last line and exits 1
1.5 s after it starts, the way an app whose database went away crash-loops.
"""

import http.server
import os
import sys
import time

MARKER = os.environ["CRASH_MARKER"]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/crash"):
            with open(MARKER, "w") as f:
                f.write("crash\n")
            print("crashing on request", flush=True)
            os._exit(1)
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


if os.path.exists(MARKER):
    time.sleep(1.5)  # tries to connect for a while, as such an app would
    print("fatal: the database is gone", flush=True)
    sys.exit(1)
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
