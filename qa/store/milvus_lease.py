"""One writer at a time on a Milvus server: a lease row in the index's meta collection.

Milvus has no locks and no compare-and-swap, so the writer's lock is a lease:
a ``lock`` row naming its holder (a random token, the host and process) and
when it expires. A writer takes it when there is none or it has expired:
it writes its own row, waits ``settle`` seconds (longer than any other
writer's gap between reading "free" and writing its row), and reads it back;
only the writer whose row survived holds the lease (Milvus keeps the last
write of a primary key). While it holds it, a thread renews the expiry every
``renew`` seconds, so a long build keeps it, and a writer that was killed
frees it ``ttl`` seconds later. A commit checks the lease before it publishes
(``check``): a writer that lost it (paused past its expiry) never publishes
over another's work. The expiry is wall-clock time: the writers' clocks must
agree to within a few seconds (NTP).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator

from qa.errors import BackendError

if TYPE_CHECKING:
    from qa.store.milvus import MilvusBackend

KEY = "lock"


@dataclass(frozen=True)
class LeaseTimes:
    """Seconds: how long a lease lasts unrenewed, how often it is renewed, the wait before it is confirmed,
    how often a waiting writer looks again, and how long it waits for a live holder before giving up."""

    ttl: float = 120.0
    renew: float = 20.0
    settle: float = 1.0
    poll: float = 2.0
    wait: float = 1800.0


class WriterLease:
    """The lease of one writer on one Milvus index (see the module docstring)."""

    def __init__(self, backend: MilvusBackend, times: LeaseTimes | None = None) -> None:
        self._backend = backend
        self.times = times or LeaseTimes()
        self.token = secrets.token_hex(8)
        self.holder = {"token": self.token, "host": socket.gethostname(), "pid": os.getpid()}
        self._lost = threading.Event()
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    @property
    def lost(self) -> bool:
        """Whether this writer found that another one holds the lease now."""
        return self._lost.is_set()

    def read(self) -> dict[str, Any] | None:
        """The current lease row's holder and expiry (None: no lease)."""
        rows = self._backend._query(self._backend.meta, f'key == "{KEY}"', ["value"], "Strong")
        try:
            value = json.loads(rows[0]["value"]) if rows else None
        except (KeyError, json.JSONDecodeError):
            return None  # unreadable: as if free
        return value if isinstance(value, dict) else None

    def _write(self) -> None:
        row = {"key": KEY, "value": json.dumps({**self.holder, "expires": time.time() + self.times.ttl}), "v": [0.0, 0.0]}
        self._backend.call("take the writer's lease", "upsert", self._backend.meta, [row])

    def acquire(self) -> None:
        """Wait until this writer holds the lease.

        Raises:
            BackendError: another writer kept it for ``times.wait`` seconds.
        """
        deadline = time.monotonic() + self.times.wait
        while True:
            current = self.read()
            if current is None or current.get("token") == self.token or _expiry(current) < time.time():
                self._write()
                time.sleep(self.times.settle)
                if (self.read() or {}).get("token") == self.token:
                    return
                continue  # another writer's row won: wait for it
            if time.monotonic() >= deadline:
                raise BackendError(
                    f"another writer ({current.get('host')}, process {current.get('pid')}) is updating "
                    f"{self._backend.location}; try again when it is done (a writer that was killed frees it "
                    f"{self.times.ttl:.0f} s later)")
            time.sleep(self.times.poll)

    def check(self) -> None:
        """Raises BackendError if this writer no longer holds the lease (never publish then)."""
        if self._lost.is_set() or (self.read() or {}).get("token") != self.token:
            self._lost.set()
            raise BackendError(f"lost the writer's lease on {self._backend.location} (this process was paused past "
                               f"its expiry, or another writer took it): nothing was published; run the update again")

    def _renew_until_stopped(self) -> None:
        while not self._stop.wait(self.times.renew):
            try:
                if (self.read() or {}).get("token") != self.token:
                    self._lost.set()
                    return
                self._write()
            except Exception:  # noqa: BLE001 - the server is unreachable: the commit itself will say so
                continue

    def release(self) -> None:
        """Stop renewing and remove the lease row, if it is still this writer's."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=30)  # a renewal in flight would write the row again after the delete
        try:
            if (self.read() or {}).get("token") == self.token:
                self._backend.call("release the writer's lease", "delete", self._backend.meta, filter=f'key == "{KEY}"')
        except BackendError:
            pass  # it expires by itself

    @contextmanager
    def held(self) -> Iterator[WriterLease]:
        self.acquire()
        self._renewer = threading.Thread(target=self._renew_until_stopped, name="docqa-milvus-lease", daemon=True)
        self._renewer.start()
        try:
            yield self
        finally:
            self.release()


def _expiry(holder: dict[str, Any]) -> float:
    try:
        return float(holder.get("expires", 0))
    except (TypeError, ValueError):
        return 0.0  # unreadable: expired
