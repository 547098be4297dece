# mypy: allow-untyped-defs, allow-untyped-calls, allow-incomplete-defs
"""Old workers are seen to stop accepting when they close the master's listening sockets."""

import os
import signal
import subprocess
import sys

from deis_router_agent.nginx import workers

# A "master" listening on a socket, and a "worker" child that inherits it and closes it on
# SIGUSR1, as an nginx worker does when told to quit. Both also share a socket that is not a
# listener (nginx's master and workers share their channels), which the worker keeps.
MASTER = """
import os, signal, socket, subprocess, sys, time
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen()
channel, _ = socket.socketpair()
worker = subprocess.Popen([sys.executable, "-c", sys.argv[1], str(listener.fileno())],
                          pass_fds=[listener.fileno(), channel.fileno()])
print(worker.pid, flush=True)
time.sleep(60)
"""
WORKER = """
import os, signal, sys, time
fd = int(sys.argv[1])
signal.signal(signal.SIGUSR1, lambda *_: os.close(fd))
print("ready", flush=True)
while True:
    time.sleep(0.05)
"""


async def test_waiting_ends_when_old_workers_close_the_listening_sockets():
    master = subprocess.Popen(
        [sys.executable, "-c", MASTER, WORKER], stdout=subprocess.PIPE, text=True
    )
    try:
        assert master.stdout is not None
        worker = int(master.stdout.readline())
        assert workers.workers(master.pid) == {worker}
        shared = workers.sockets(master.pid) & workers.sockets(worker)
        assert len(shared) == 2  # the listener and the channel
        assert len(shared & workers.listening()) == 1
        assert not await workers.wait_until_old_ones_stop_accepting(
            master=master.pid, old={worker}, seconds=0.2
        )
        os.kill(worker, signal.SIGUSR1)
        assert await workers.wait_until_old_ones_stop_accepting(
            master=master.pid, old={worker}, seconds=5
        )
    finally:
        for pid in workers.workers(master.pid):
            os.kill(pid, signal.SIGKILL)
        master.kill()
        master.wait()
        if master.stdout is not None:
            master.stdout.close()


async def test_gone_workers_accept_nothing():
    assert await workers.wait_until_old_ones_stop_accepting(
        master=os.getpid(), old={2**22 + 3}, seconds=0.1
    )
