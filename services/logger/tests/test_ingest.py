"""100,000 lines from real processes, published as the scheduler's shipper publishes them."""

import asyncio
import contextlib
import sys

from deis_shared import wire
from deis_shared.bus import logreading
from deis_shared.events import logs

PRINTER = """\
import sys
for n in range(int(sys.argv[1])):
    print(f"{sys.argv[2]} line {n}")
"""

PROCESSES = 4
LINES_EACH = 25_000


async def _ship(bench, *, app: str, process: str, stdout: asyncio.StreamReader) -> None:
    subject = logs.subject(app)
    shipped = 0
    async for raw in stdout:
        line = logs.LogLine(app=app, process=process, message=raw.decode().rstrip("\n"))
        await bench.nc.publish(subject, wire.encode(line))
        shipped += 1
        if shipped % 1000 == 0:
            await bench.nc.flush()  # as the shipper, never more than the client buffers
    await bench.nc.flush()


def _numbers_per_process(lines: list[str]) -> dict[str, list[int]]:
    seen: dict[str, list[int]] = {}
    for line in lines:
        _, source, printer, _, number = line.split(" ")
        assert source.endswith(f"[{printer.replace('p', 'web.')}]:")
        seen.setdefault(printer, []).append(int(number))
    return seen


async def test_lines_of_real_processes_arrive_complete_and_in_order(bench, app_name, until):
    total = PROCESSES * LINES_EACH
    async with bench.logger(max_lines_per_app=total, archive=False):
        children = [
            await asyncio.create_subprocess_exec(
                sys.executable, "-c", PRINTER, str(LINES_EACH), f"p{i}",
                stdout=asyncio.subprocess.PIPE,
            )
            for i in range(1, PROCESSES + 1)
        ]  # fmt: skip
        try:
            await asyncio.gather(
                *(
                    _ship(bench, app=app_name, process=f"web.{i}", stdout=child.stdout)
                    for i, child in enumerate(children, start=1)
                    if child.stdout is not None
                )
            )
        finally:
            for child in children:
                with contextlib.suppress(ProcessLookupError):
                    child.kill()
                await child.wait()

        async def all_stored() -> bool:
            return bool(await bench.stored(app_name) == total)

        await until(all_stored)
        lines = await logreading.tail(js=bench.js, nc=bench.nc, app=app_name, lines=total)
    expected = {f"p{i}": list(range(LINES_EACH)) for i in range(1, PROCESSES + 1)}
    assert _numbers_per_process(lines) == expected
