"""Where every benchmark writes its results: bench/results/NAME.json and NAME.png."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

RESULTS = Path(__file__).resolve().parent / "results"


def machine_load() -> list[float]:
    """``uptime``'s load averages (1, 5, 15 min): timings on 2 cores mean little under load."""
    return [round(x, 2) for x in os.getloadavg()]


def save_result(name: str, result: Any, *, echo: bool = True, folder: Path = RESULTS) -> Path:
    """Write ``result`` as ``<folder>/<name>.json`` (default ``bench/results``); print it as one JSON line if ``echo``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(result, indent=1))
    if echo:
        print(json.dumps(result))
    return path


def save_plot(name: str, draw: Callable[[Any], None], size: tuple[float, float] = (6.5, 4.2)) -> Path | None:
    """Call ``draw(figure)`` and save ``bench/results/<name>.png`` (needs the ``bench`` extra: matplotlib)."""
    try:
        import matplotlib
    except ImportError:
        print("no plot: matplotlib is missing; install it with  .venv/bin/pip install -e '.[bench]'", file=sys.stderr)
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = plt.figure(figsize=size)
    draw(figure)
    figure.tight_layout()
    path = RESULTS / f"{name}.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
