"""Run the emulator in a child process, so its CPU is not the client's."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sinch_calling.testing.emulator import DEFAULT_KEY, DEFAULT_SECRET

KEY, SECRET = DEFAULT_KEY, DEFAULT_SECRET


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def child_server(arguments: list[str], port: int, *, cpu: int | None = 1,
                 name: str = "server") -> Iterator[subprocess.Popen[bytes]]:
    """Run ``python <arguments>`` (pinned to ``cpu`` when there are cores to spare) until
    it accepts connections on ``port``; yield the process; terminate it afterwards."""
    command = [sys.executable, *arguments]
    if cpu is not None and (os.cpu_count() or 1) > cpu:
        command = ["taskset", "-c", str(cpu), *command]
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        else:
            raise RuntimeError(f"the {name} did not start")
        yield child
    finally:
        child.terminate()
        child.wait(10)


@contextmanager
def emulator_process(cpu: int | None = 1) -> Iterator[str]:
    """Start ``sinch-calling emulator`` on a free port; yield its origin."""
    port = free_port()
    with child_server(["-m", "sinch_calling", "emulator", "--port", str(port)], port, cpu=cpu,
                      name="emulator"):
        yield f"http://127.0.0.1:{port}"


def pin_self(cpu: int = 0) -> None:
    """Keep this (client) process on one core, away from the server's."""
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {cpu})
