"""Decode a chunked body for an HTTP/1.0 client, which cannot read chunked framing.

The input was already validated by the ``ChunkedScanner``. Pure-Python engine;
``ext/http/_heads_c.pyx`` has the compiled twin.
"""

from __future__ import annotations

SIZE, DATA, DATA_END, TRAILER, DONE = 0, 1, 2, 3, 4


class Dechunker:
    """Streaming chunked-body decoder: ``feed`` returns the payload bytes found so far."""

    def __init__(self) -> None:
        self.state = SIZE
        self.left = 0
        self.line = bytearray()

    def feed(self, data) -> bytes:
        out = bytearray()
        view = memoryview(data)
        i, n = 0, len(data)
        while i < n and self.state != DONE:
            if self.state == DATA:
                take = min(self.left, n - i)
                out += view[i : i + take]
                i += take
                self.left -= take
                if self.left == 0:
                    self.state = DATA_END
                continue
            end = data.find(b"\n", i)
            if end < 0:
                self.line += view[i:]
                break
            self.line += view[i : end + 1]
            i = end + 1
            line = bytes(self.line).rstrip(b"\r\n")
            self.line.clear()
            if self.state == SIZE:
                self.left = int(line.split(b";", 1)[0].strip(), 16)
                self.state = DATA if self.left else TRAILER
            elif self.state == DATA_END:
                self.state = SIZE
            elif not line:  # TRAILER: an empty line ends the body
                self.state = DONE
        return bytes(out)


def new_dechunker() -> Dechunker:
    """A new decoder: what the client connection calls, so that the compiled build's is C (``_heads_c``)."""
    return Dechunker()
