"""What every benchmark records of the machine it ran on: other work shares these 2 cores, and
the load average before and after says how much."""

from __future__ import annotations

import os
import platform
from typing import Any


def machine(load_before: tuple[float, float, float]) -> dict[str, Any]:
    """The machine's record for a result file; ``load_before`` is ``os.getloadavg()`` at the start."""
    return {
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "loadavg_1m_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
    }
