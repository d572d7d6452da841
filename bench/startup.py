"""Start-up cost: `import qa`, and a whole `qa ask` process on the default corpus.

    .venv/bin/python bench/startup.py [--runs 7]

Builds a temporary index of docs_src/ (with the ONNX query encoder, as
`qa index` does), then times fresh processes and prints medians as JSON
(also written to bench/results/startup.json). Timings are noisy on 2 cores:
compare the medians of one run.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from results_file import machine_load, save_plot, save_result  # noqa: E402
QA = [sys.executable, "-m", "qa"]


def timed(cmd: list[str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out.append(time.perf_counter() - start)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="qa-startup-"))
    subprocess.run([*QA, "index", "docs_src", "--index", str(work / "onnx"), "-q"], check=True, cwd=ROOT)
    subprocess.run([*QA, "index", "docs_src", "--index", str(work / "plain"), "-q", "--no-onnx"], check=True, cwd=ROOT)
    load = machine_load()
    question = "Who invited Putin to North Korea?"
    import_code = "import time; t = time.perf_counter(); import qa; print(time.perf_counter() - t)"
    imports = [float(subprocess.run([sys.executable, "-c", import_code], capture_output=True, text=True, check=True).stdout)
               for _ in range(args.runs)]
    results = {
        "load": load,
        "import_qa_s": round(statistics.median(imports), 4),
        "python_startup_s": round(statistics.median(timed([sys.executable, "-c", "pass"], args.runs)), 3),
        "qa_ask_onnx_s": round(statistics.median(timed([*QA, "ask", question, "--index", str(work / "onnx")], args.runs)), 3),
        "qa_ask_sentence_transformers_s": round(statistics.median(timed([*QA, "ask", question, "--index", str(work / "plain")], max(3, args.runs // 2))), 3),
        "runs": args.runs,
    }
    save_result("startup", results)
    save_plot("startup", lambda figure: draw(figure, results))
    return 0


def draw(figure, results: dict) -> None:  # type: ignore[no-untyped-def]
    ax = figure.subplots()
    labels = ["python -c pass", "import qa", "qa ask (ONNX\nquery encoder)", "qa ask (sentence-\ntransformers)"]
    values = [results["python_startup_s"], results["import_qa_s"], results["qa_ask_onnx_s"], results["qa_ask_sentence_transformers_s"]]
    bars = ax.bar(labels, values, color=["grey", "tab:green", "tab:blue", "tab:red"])
    ax.bar_label(bars, fmt="%.3g s")
    ax.set_yscale("log")
    ax.set_ylabel("seconds, median of fresh processes (log)")
    ax.set_title(f"start-up on the default corpus ({results['runs']} runs)")


if __name__ == "__main__":
    sys.exit(main())
