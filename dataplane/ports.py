"""Loopback ports for processes to listen on, chosen before they start.

A port is known to be free only while it is held; the process that will listen
on it binds it later. Two quick requests to the kernel can get the same port,
and then the second process fails to bind, or worse, a check that the first
one listens finds the second. ``free_port`` never hands out a port it handed
out recently.
"""

from __future__ import annotations

import socket
import threading
from collections import OrderedDict

# ports remembered as handed out; far more than the processes started in any few seconds
RECENT = 4096
_recent: OrderedDict[int, None] = OrderedDict()
_lock = threading.Lock()


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now that this process has not handed out recently."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with _lock:
        for _ in range(64):
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                sock.bind((host, 0))
                port = sock.getsockname()[1]
            if port not in _recent:
                _recent[port] = None
                if len(_recent) > RECENT:
                    _recent.popitem(last=False)
                return port
    raise OSError(f"no free port on {host} after 64 tries")
