"""Start a real Milvus standalone server (PyPI's ``milvus==2.3.5``, ``milvus-server``) on free local ports.

The backend tests and ``bench/milvus.py`` start one for their run and stop
it after; run it by hand to try a Milvus index:

    .venv/bin/python scripts/milvus_server.py --data /tmp/milvus    # prints milvus://127.0.0.1:PORT, Ctrl+C stops it
    .venv/bin/qa index docs_src --index milvus://127.0.0.1:PORT/docs
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

COMPONENTS = ("rootCoord", "proxy", "queryCoord", "queryNode", "indexNode", "dataCoord", "dataNode")
PORT_OPTIONS = ("--etcd-port", "--root-coord-port", "--proxy-internal-port", "--query-coord-port", "--query-node-port",
                "--index-coord-port", "--index-node-port", "--data-coord-port", "--data-node-port")


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(data: Path, timeout: float = 120.0) -> tuple[subprocess.Popen, str]:
    """The running server and its ``milvus://127.0.0.1:PORT`` (raises RuntimeError if it does not come up)."""
    binary = shutil.which("milvus-server") or str(Path(sys.executable).parent / "milvus-server")
    if not Path(binary).exists():
        raise RuntimeError("milvus-server not found: pip install 'milvus==2.3.5' (in the test extra)")
    data.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [binary, "--data", str(data), "--proxy-port", str(port)]
    for option in PORT_OPTIONS:
        command += [option, str(free_port())]
    for component in COMPONENTS:  # listen on loopback, not on the machine's outside address
        command += ["--extra-config", f"{component}.ip=127.0.0.1"]
    log_path = data.parent / f"{data.name}.log"
    log = open(log_path, "wb")
    logs = data / "glog"  # its C++ parts log through glog, by default into /tmp (three files a start)
    logs.mkdir(exist_ok=True)
    env = {**os.environ, "GLOG_log_dir": str(logs)}
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"milvus-server exited with {process.returncode}; see {log_path}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                pass
        except OSError:
            time.sleep(0.5)
            continue
        if _answers(f"http://127.0.0.1:{port}"):
            return process, f"milvus://127.0.0.1:{port}"
        time.sleep(0.5)
    stop(process)
    raise RuntimeError(f"milvus-server did not answer within {timeout:.0f} s (one server per machine: its etcd "
                       f"peer port 2380 is fixed); see {log_path}")


def _answers(uri: str) -> bool:
    try:
        from pymilvus import MilvusClient

        client = MilvusClient(uri=uri, timeout=5)
        client.list_collections()
        client.close()
        return True
    except Exception:  # noqa: BLE001 - not ready yet
        return False


def descendants(pid: int) -> list[int]:
    """Processes started by ``pid``, and by those (from /proc): milvus-server runs the server binary in its own group."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def stop(process: subprocess.Popen) -> None:
    """Stop the server, the binary it started and its etcd: SIGTERM, then SIGKILL after 10 s."""
    import os
    import signal

    pids = descendants(process.pid) + [process.pid]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() and _alive(pid) for pid in pids):
            if process.poll() is not None and not any(_alive(pid) for pid in pids if pid != process.pid):
                break
            time.sleep(0.2)
        if not any(_alive(pid) for pid in pids if pid != process.pid) and process.poll() is not None:
            break
    process.wait()


def _alive(pid: int) -> bool:
    """Running (a zombie, waiting for its parent to collect it, counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="folder for the server's data and log")
    args = parser.parse_args()
    process, uri = start(args.data)
    print(uri, flush=True)
    try:
        process.wait()
    except KeyboardInterrupt:
        stop(process)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
