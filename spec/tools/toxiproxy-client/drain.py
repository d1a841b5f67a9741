#!/usr/bin/env python3
"""A kernel TCP client for scenario.js: connects to HOST PORT, sends SEND
(optional), reads until the end and prints one JSON line: bytes read, ms
from connect to the end, and how it ended ("end" for a FIN, or the errno
name, e.g. "ECONNRESET"). A blocking recv() reports a reset as such, where
an event loop may fold it into an end of file. Every wait is bounded."""
import errno
import json
import socket
import sys
import time

host, port = sys.argv[1], int(sys.argv[2])
send = sys.argv[3].encode() if len(sys.argv) > 3 else b""
sock = socket.create_connection((host, port), timeout=5)
sock.settimeout(30)
t0 = time.monotonic()
if send:
    sock.sendall(send)
total, first, how = 0, None, "end"
try:
    while True:
        data = sock.recv(65536)
        if not data:
            break
        if first is None:
            first = (time.monotonic() - t0) * 1000
        total += len(data)
except OSError as e:
    how = errno.errorcode.get(e.errno, str(e)) if e.errno else type(e).__name__
ms = (time.monotonic() - t0) * 1000
sock.close()
print(json.dumps({"bytes": total, "ms": ms, "how": how, "first": first}))
