"""What the machine gave a run: a CPU-speed probe sampled through it, and the steal.

The load average counts what ran inside this VM. On a shared host the vCPUs themselves
are faster or slower from one minute to the next (another guest on the same cores: steal
time, a busy sibling hyper-thread, the clock), and every figure of a run moves with them,
CPU per request included, while the load average stays near zero: a fixed loop measured
54 to 84 ms within one idle minute here. So a small process times a fixed pure-Python
loop every few seconds through the run, in CPU time of its own thread (waiting for a
CPU behind the stack does not count, only how fast the CPU ran it), and the share of
the run the hypervisor kept the vCPUs (``steal`` in ``/proc/stat``) is read around it.
Two runs of the same code on different hours can then be read side by side. The
sampler takes about 70 ms of one CPU every 10 s (a third of a per cent of the machine).

``python benchmarks/machine.py`` prints one probe; ``--every S`` prints one every S seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

PROBE_LOOPS = 1_000_000


def probe_ms(repeat: int = 3) -> float:
    """Best of ``repeat`` timings of a fixed loop, in ms of thread CPU: lower is faster."""
    best = float("inf")
    for _ in range(repeat):
        started = time.thread_time()
        total = 0
        for i in range(PROBE_LOOPS):
            total += i * i % 7
        best = min(best, time.thread_time() - started)
    return round(best * 1000, 1)


def _cpu_ticks() -> tuple[int, int]:
    """(steal, all) jiffies of every CPU since boot."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is already in user)
    return fields[7], sum(fields[:8])


@dataclass
class MachineReport:
    probes_ms: list[float]
    steal_pct: float
    load_start: float
    load_end: float

    def line(self) -> str:
        probes = sorted(self.probes_ms) or [float("nan")]
        return (
            f"machine: probe median {statistics.median(probes):.1f} ms "
            f"(min {probes[0]:.1f}, max {probes[-1]:.1f}, {len(self.probes_ms)} samples; "
            f"a fixed Python loop in CPU time, lower is faster), steal {self.steal_pct}% "
            f"of the CPUs' time, load {self.load_start:.2f} -> {self.load_end:.2f} "
            f"on {os.cpu_count()} CPU"
        )


class MachineWatch:
    """Samples the probe in a process of its own around a run: ``start()``, ``stop()``."""

    def __init__(self, every_s: float = 10.0) -> None:
        self.every_s = every_s

    def start(self) -> MachineWatch:
        self._load = os.getloadavg()[0]
        self._ticks = _cpu_ticks()
        self._sampler = subprocess.Popen(
            [sys.executable, str(Path(__file__)), "--every", str(self.every_s)],
            stdout=subprocess.PIPE,
            text=True,
        )
        return self

    def stop(self) -> MachineReport:
        steal, total = _cpu_ticks()
        self._sampler.terminate()
        out, _ = self._sampler.communicate()
        return MachineReport(
            probes_ms=[float(x) for x in out.split()],
            steal_pct=round(100 * (steal - self._ticks[0]) / max(1, total - self._ticks[1]), 1),
            load_start=self._load,
            load_end=os.getloadavg()[0],
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=float, help="seconds between probes (default: one)")
    args = parser.parse_args()
    parent = os.getppid()
    while True:
        # One loop per sample through a run (the median of the samples steadies it), the
        # best of three for a lone probe.
        print(probe_ms(1 if args.every else 3), flush=True)
        if args.every is None:
            return
        time.sleep(args.every)
        if os.getppid() != parent:  # the run was killed without stopping its watch
            return


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C reaches the whole process group
        main()
