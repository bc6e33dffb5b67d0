"""What every benchmark measures the same way: CPU time of the whole process and its own peak memory."""

from __future__ import annotations

import resource
from pathlib import Path


def cpu_seconds() -> float:
    """CPU time of all threads of this process: robust when other work shares the machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """This process's own high-water RSS. Not ru_maxrss: that survives exec, so a child reports its parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
