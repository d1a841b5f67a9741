#!/usr/bin/env python3
"""The kernel's UDP client for spec/tun/udp_spec.lua, run inside the
spec's namespace. Every call is bounded by a socket timeout. HOST is an
IPv4 or an IPv6 address; the socket's family follows it.

  udp_client.py echo HOST PORT SIZE...   one datagram of each size (random
                                         bytes), its echo compared byte for
                                         byte; prints "ok SIZE" per size
  udp_client.py nocsum HOST PORT         the same with SO_NO_CHECK: the
                                         kernel sends checksum 0
  udp_client.py refused HOST PORT        a connected socket sends to a closed
                                         port; prints "refused" when the next
                                         receive fails with ECONNREFUSED
"""
import os
import socket
import sys

SO_NO_CHECK = 11  # <asm-generic/socket.h>


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def echo(host, port, sizes, nocsum=False):
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    s.settimeout(3)
    if nocsum:
        s.setsockopt(socket.SOL_SOCKET, SO_NO_CHECK, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    for size in sizes:
        data = os.urandom(size)
        for attempt in range(3):
            s.sendto(data, (host, port))
            try:
                got, src = s.recvfrom(65536)
                break
            except socket.timeout:
                continue
        else:
            print("timeout %d" % size)
            return 1
        if got != data or src[:2] != (host, port):
            print("differ %d (got %d bytes from %s)" % (size, len(got), src))
            return 1
        print("ok %d" % size)
    return 0


def refused(host, port):
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    s.settimeout(3)
    s.connect((host, port))
    s.send(b"anyone there?")
    try:
        s.recv(100)
        print("answered")
    except ConnectionRefusedError:
        print("refused")
    except socket.timeout:
        print("timeout")
    return 0


def main():
    mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "echo":
        return echo(host, port, [int(x) for x in sys.argv[4:]])
    if mode == "nocsum":
        return echo(host, port, [1, 1000], nocsum=True)
    if mode == "refused":
        return refused(host, port)
    print("unknown mode " + mode)
    return 2


sys.exit(main())
