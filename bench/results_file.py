"""Where every benchmark writes its JSON result (bench/results/NAME.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def save_result(name: str, result: Any, *, echo: bool = True) -> Path:
    """Write ``result`` as ``bench/results/<name>.json``; print it as one JSON line if ``echo``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=1))
    if echo:
        print(json.dumps(result))
    return path
