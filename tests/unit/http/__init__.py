"""The HTTP engine: head scanner, chunked framing, proxy protocols."""
