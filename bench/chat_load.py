"""Load test for the chat server's ``/ask`` API: N concurrent gradio_client users.

Each user asks a fixed number of questions from the seed set, so the run is
bounded. Every reply is checked twice: against the reply the server gave to
the same question when it was idle (answers must not change under load) and
against the gold answers (whether the answerer itself is right). Prints one
JSON object.

    python app.py --port 7860 &            # or let --start do it
    python bench/chat_load.py --url http://127.0.0.1:7860/ --users 10 --requests 10
    python bench/chat_load.py --start      # starts app.py on a free port with a temp index
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from qa.evaluate import data_dir  # noqa: E402

DEFAULT_QUESTIONS = data_dir() / "eval" / "seed_dev.jsonl"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def load_questions(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if r.get("answers")]  # answerable ones: correctness is checkable


def start_server() -> tuple[subprocess.Popen, str, Path]:
    root = Path(tempfile.mkdtemp(prefix="chat-load-"))
    shutil.copytree(REPO / "docs_src", root / "docs")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(root / "server.log", "w")
    proc = subprocess.Popen([sys.executable, str(REPO / "app.py"), "--docs", str(root / "docs"), "--index",
                             str(root / "index"), "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, cwd=root)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"app.py exited with {proc.returncode}; see {root / 'server.log'}")
        try:
            with urllib.request.urlopen(url + "gradio_api/info", timeout=2):
                return proc, url, root
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("app.py did not start within 120 s")


def run(url: str, questions: list[dict], users: int, requests: int) -> dict:
    from gradio_client import Client

    reference_client = Client(url, verbose=False)
    reference = {q["question"]: reference_client.predict(q["question"], api_name="/ask") for q in questions}
    latencies: list[float] = []
    changed: list[str] = []
    wrong: set[str] = set()
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(users)

    def user(n: int) -> None:
        client = Client(url, verbose=False)
        barrier.wait()  # all users start together
        for i in range(requests):
            row = questions[(n * requests + i) % len(questions)]
            started = time.perf_counter()
            try:
                reply = client.predict(row["question"], api_name="/ask")
            except Exception as exc:  # noqa: BLE001 - count it, keep going
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
                continue
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                if reply != reference[row["question"]]:
                    changed.append(row["question"])
                if not any(a.lower() in reply.lower() for a in row["answers"]):
                    wrong.add(row["question"])

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=users) as pool:
        list(pool.map(user, range(users)))
    wall = time.perf_counter() - started
    total = users * requests
    return {
        "users": users,
        "requests": total,
        "completed": len(latencies),
        "errors": len(errors),
        "error_examples": errors[:3],
        "p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "p95_s": round(percentile(latencies, 95), 3) if latencies else None,
        "max_s": round(max(latencies), 3) if latencies else None,
        "throughput_rps": round(len(latencies) / wall, 2),
        "wall_s": round(wall, 2),
        "same_as_idle": len(latencies) - len(changed),
        "gold_answer_in_reply": f"{len(questions) - len(wrong)}/{len(questions)} questions",
        "questions_without_gold_answer": sorted(wrong),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:7860/", help="a running chat server")
    parser.add_argument("--start", action="store_true", help="start app.py on a free port with a temporary index instead")
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--requests", type=int, default=10, help="questions per user (default 10)")
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS, help="JSONL with question/answers rows")
    args = parser.parse_args(argv)
    proc = root = None
    url = args.url
    if args.start:
        proc, url, root = start_server()
    try:
        result = run(url, load_questions(args.questions), args.users, args.requests)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(15)
            shutil.rmtree(root, ignore_errors=True)
    result["cpus"] = os.cpu_count()
    print(json.dumps(result))
    return 0 if result["errors"] == 0 and result["same_as_idle"] == result["completed"] else 1


if __name__ == "__main__":
    sys.exit(main())
