"""An index in Milvus: the same passages, vectors, sentence vectors and BM25 as an index folder, on a server.

Locations: ``milvus://host:port/name`` (a Milvus server) and
``milvus-lite:///path/to/file.db/name`` (Milvus Lite, an embedded file).
Options after ``?``, joined by ``&``: ``consistency=Strong`` (or Session,
Bounded, Eventually) sets how fresh searches must be; the default is Bounded
(Milvus's own: a search may miss writes of the last few seconds, and costs no
wait for them). ``index=HNSW`` (or IVF_FLAT; default FLAT, exact, as the
folder's store below 50k passages) picks the passage vectors' index,
``shards=N`` and ``replicas=N`` how new collections are sharded and how many
query-node replicas load them (servers only; see docs/scale.md).

An index called ``name`` is a few collections:

* ``name__meta``: the manifest (the same JSON as a folder's ``manifest.json``,
  in chunks) and a ``head/<seq>`` row per commit that names it;
* ``name__p_<gen>``: one row per passage: its JSON row, its document, its
  BM25 tokens (``textutil.tokenize``, space-separated) and its vector;
* ``name__s_<gen>``: one row per sentence vector (id = passage id * 4096 + sentence);
* ``name__df_<gen>`` (servers with full-text search, Milvus >= 2.5 and Milvus
  Lite): each token's document frequency, for the answer features' idf.

BM25: where the server has full-text search, the tokens column feeds a
Milvus BM25 function (whitespace analyzer, k1 = 1.5, b = 0.75), so Milvus
computes the very scores ``BM25Store`` does (times k1 + 1, which is divided
out); a server without it (2.3, 2.4) gets a ``BM25Store`` rebuilt in memory
from the stored tokens when the index is opened. Either way the answers are
the ones the index folder gives (tests/store/test_backends.py).

A commit (one writer at a time: a lock file beside a Milvus Lite database,
a lease row in ``name__meta`` on a server, see ``qa.store.milvus_lease``):
(1) leftovers of an interrupted commit are deleted (rows with ids >= the
manifest's ``next_id``; the stale rows the last manifest lists), (2) new
rows are inserted, (3) document frequencies are updated, (4) the manifest is
written and a new head row names it, the atomic step, (5) rows of removed or
changed documents are deleted. A commit that fails with an error before (4)
removes what it wrote; one whose process is killed leaves it for the next
commit's step (1). A full rebuild writes a new generation of collections,
then moves the ``name`` alias (where the server has aliases); the old ones
are dropped by the commit after it (readers that opened them a moment
earlier keep working). Passage ids are never reused within a generation, so
a reader that opened the previous manifest still finds every passage it knows.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
import warnings
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterable, Iterator, Sequence

import numpy as np

from qa import __version__
from qa.config import Settings
from qa.errors import BackendError, IndexCorruptError, IndexMismatchError, IndexNotFoundError
from qa.files import exclusive_lock
from qa.retrieval.lexical import K1, BM25Store, _idf
from qa.store.data import IndexData, new_manifest, now
from qa.store.manifest import check_manifest
from qa.store.milvus_lease import LeaseTimes, WriterLease
from qa.store.passages import _OnDisk, _passage_from_row, _passage_row
from qa.textutil import tokenize
from qa.types import Passage

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}$")
CONSISTENCY = ("Strong", "Session", "Bounded", "Eventually")
# Index of the passage vectors and how it is searched. FLAT is exact; the approximate ones are for corpora
# far past the folder's 50k exact limit. Recall@10 on 110k real MiniLM vectors (bench/milvus_ann.py):
# HNSW 0.997, IVF_FLAT 0.967.
VECTOR_INDEXES = {
    "FLAT": ({}, {}),
    "HNSW": ({"M": 16, "efConstruction": 200}, {"ef": 128}),
    "IVF_FLAT": ({"nlist": 4096}, {"nprobe": 64}),
}
FILES = frozenset({"passages", "sentences"})
SENTENCE_SLOTS = 4096  # sentence vector row id = passage id * SENTENCE_SLOTS + sentence number
MAX_TEXT = 65_535  # Milvus VARCHAR limit (bytes)
MANIFEST_CHUNK = 16_000  # characters per manifest row (at most 4 bytes each in UTF-8)
WRITE_BATCH = 500  # rows per insert call
READ_BATCH = 1_000  # ids per `id in [...]` query
CACHE_LIMIT = 100_000  # passages and sentence-vector blocks kept after being read once
CONNECT_TIMEOUT = 10.0  # seconds to wait for a server before saying it cannot be reached
MAX_SEARCH = 16_384  # Milvus's largest limit (topk)
DF_MARKER = "__commit__"  # the document-frequency row that records which commit it belongs to (tokens are \w+: never this)


@dataclass(frozen=True)
class MilvusLocation:
    """A parsed ``milvus://`` or ``milvus-lite://`` location."""

    text: str
    uri: str  # what MilvusClient connects to: http://host:port, or the Lite file's path
    name: str
    lite: bool
    consistency: str = "Bounded"
    vector_index: str = "FLAT"
    shards: int | None = None
    replicas: int | None = None

    @classmethod
    def parse(cls, text: str) -> MilvusLocation:
        """Raises ValueError with the expected shapes when ``text`` is not one."""
        shapes = "milvus://HOST:PORT/NAME or milvus-lite:///PATH/FILE.db/NAME"
        body, _, query = text.partition("?")
        options: dict[str, str] = {}
        for item in query.split("&") if query else []:
            key, _, value = item.partition("=")
            if key not in ("consistency", "index", "shards", "replicas") or not value or key in options:
                raise ValueError(f"unknown option {item!r} in {text!r}: options are consistency, index, shards, replicas")
            options[key] = value
        consistency = options.get("consistency", "Bounded").capitalize()
        if consistency not in CONSISTENCY:
            raise ValueError(f"consistency in {text!r} must be one of {', '.join(CONSISTENCY)}")
        vector_index = options.get("index", "FLAT").upper()
        if vector_index not in VECTOR_INDEXES:
            raise ValueError(f"index in {text!r} must be one of {', '.join(VECTOR_INDEXES)}")
        counts = {}
        for key in ("shards", "replicas"):
            if key in options:
                if not options[key].isdigit() or int(options[key]) < 1:
                    raise ValueError(f"{key} in {text!r} must be a whole number >= 1")
                counts[key] = int(options[key])
        if body.startswith("milvus-lite://"):
            file, _, name = body[len("milvus-lite://"):].rpartition("/")
            if not file.endswith(".db"):
                raise ValueError(f"{text!r} is not a Milvus Lite location: expected {shapes} (the file name ends in .db)")
            uri, lite = str(Path(file).expanduser().resolve()), True
        elif body.startswith("milvus://"):
            server, _, name = body[len("milvus://"):].partition("/")
            host, _, port = server.partition(":")
            if not host or not (port or "19530").isdigit():
                raise ValueError(f"{text!r} is not a Milvus location: expected {shapes}")
            uri, lite = f"http://{host}:{port or 19530}", False
        else:
            raise ValueError(f"{text!r} is not a Milvus location: expected {shapes}")
        if not NAME.match(name) or "__" in name:
            raise ValueError(f"index name {name!r} in {text!r} must be letters, digits and single underscores, "
                             "starting with a letter (Milvus collection names)")
        return cls(text, uri, name, lite, consistency, vector_index, counts.get("shards"), counts.get("replicas"))


class MilvusBackend:
    """An index stored in Milvus (see the module docstring); connects on first use."""

    def __init__(self, location: str) -> None:
        try:
            self.where = MilvusLocation.parse(location)
        except ValueError as exc:
            raise BackendError(str(exc)) from None
        self.location = location
        self.folder: Path | None = None
        self._client: Any = None
        self._full_text: bool | None = None
        self._wrote = False  # after its own commit, this client reads at Session consistency (sees its writes)
        self.lease_times: LeaseTimes | None = None  # None: the defaults
        self._lease: WriterLease | None = None  # held while this process writes to a server

    # ------------------------------------------------------------------ connection
    @property
    def client(self) -> Any:
        if self._client is None:
            with warnings.catch_warnings():  # milvus_lite imports the deprecated pkg_resources
                warnings.simplefilter("ignore", UserWarning)
                try:
                    from pymilvus import MilvusClient
                except ImportError:
                    raise BackendError("a Milvus index needs pymilvus: pip install 'docqa[milvus]'") from None
                # pymilvus logs each failure it then raises; the raised error becomes our one message
                logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
                if self.where.lite:
                    Path(self.where.uri).parent.mkdir(parents=True, exist_ok=True)
                try:
                    self._client = MilvusClient(uri=self.where.uri, timeout=CONNECT_TIMEOUT)
                except Exception as exc:  # noqa: BLE001 - grpc, milvus_lite and pymilvus errors all mean: not reachable
                    if self.where.lite:
                        raise BackendError(f"cannot open Milvus Lite file {self.where.uri} ({_first_line(exc)}): Milvus Lite "
                                           "serves one process at a time, so stop the other program using it (a chat, "
                                           "another qa), or use a Milvus server") from None
                    raise BackendError(f"cannot reach Milvus at {self.location}: {_first_line(exc)}") from None
        return self._client

    def call(self, what: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """``client.method(...)``, with a server's refusal turned into one clear BackendError."""
        try:
            return getattr(self.client, method)(*args, **kwargs)
        except BackendError:
            raise
        except Exception as exc:  # noqa: BLE001 - MilvusException, grpc errors
            raise BackendError(f"Milvus at {self.location} failed to {what}: {_first_line(exc)}") from None

    @property
    def full_text(self) -> bool:
        """Whether the server has BM25 full-text search (Milvus Lite and servers from 2.5 on)."""
        if self._full_text is None:
            if self.where.lite:
                self._full_text = True
            else:
                version = str(self.call("report its version", "get_server_version"))
                numbers = [int(n) for n in re.findall(r"\d+", version)[:2]] + [0, 0]
                self._full_text = (numbers[0], numbers[1]) >= (2, 5)
        return self._full_text

    @property
    def meta(self) -> str:
        return f"{self.where.name}__meta"

    def reads(self) -> str:
        """Consistency level of searches and passage reads."""
        if self._wrote and self.where.consistency in ("Bounded", "Eventually"):
            return "Session"
        return self.where.consistency

    # ------------------------------------------------------------------ Backend
    def read_manifest(self) -> dict[str, Any]:
        """The manifest the newest head row names.

        Raises:
            IndexNotFoundError: no index of this name. IndexCorruptError, IndexMismatchError.
        """
        if not self.call("list collections", "has_collection", self.meta):
            raise IndexNotFoundError(f"no index at {self.location}: build one with `qa index DOCS_FOLDER --index {self.location}`")
        heads = self._heads()
        if not heads:
            raise IndexNotFoundError(f"no index at {self.location} yet (nothing committed): build one with "
                                     f"`qa index DOCS_FOLDER --index {self.location}`")
        key, head = heads[-1]
        try:
            version, chunks = str(head["manifest"]), int(head["chunks"])
        except (KeyError, TypeError, ValueError):
            raise IndexCorruptError(f"{self.location} has a malformed head row {key}; rebuild with `qa index --rebuild`") from None
        keys = [f"manifest/{version}/{i:06d}" for i in range(chunks)]
        rows = {r["key"]: r["value"] for r in self._query(self.meta, f"key in {json.dumps(keys)}", ["key", "value"], "Strong")}
        if len(rows) != chunks:
            raise IndexCorruptError(f"{self.location}: manifest {version} is incomplete ({len(rows)} of {chunks} parts); "
                                    "rebuild with `qa index --rebuild`")
        try:
            manifest = json.loads("".join(rows[k] for k in keys))
        except json.JSONDecodeError as exc:
            raise IndexCorruptError(f"{self.location}: manifest {version} is unreadable ({exc}); rebuild with `qa index --rebuild`") from None
        where = f"{self.location} (manifest {version})"
        manifest = check_manifest(manifest, where, self.location, FILES)
        files = manifest["files"]
        if files and not all(isinstance(v, str) and v.startswith(f"{self.where.name}__") for v in files.values()):
            raise IndexCorruptError(f"{where} names collections of another index; rebuild with `qa index --rebuild`")
        seq, stale = manifest.get("commit_seq", 0), manifest.get("stale", [])
        if not (_whole(seq) and isinstance(stale, list) and all(_whole(i) for i in stale)):
            raise IndexCorruptError(f"{where} has a wrong 'commit_seq' or 'stale'; rebuild with `qa index --rebuild`")
        return manifest

    def load(self, verify: bool | None = None) -> IndexData:
        """Open the committed index: nothing is read but the manifest (and, on a server without
        full-text search, every passage's tokens, for the BM25 store in memory)."""
        manifest = self.read_manifest()
        return self._data(manifest)

    def empty(self, settings: Settings) -> IndexData:
        return self._data(new_manifest(settings))

    def writer_lock(self) -> ContextManager[None]:
        """Milvus Lite: a lock file beside the database (Milvus Lite itself lets one process open it);
        a server: a lease in the meta collection (``qa.store.milvus_lease``)."""
        return exclusive_lock(Path(self.where.uri + ".lock")) if self.where.lite else self._leased()

    @contextmanager
    def _leased(self) -> Iterator[None]:
        self._ensure_meta()
        with WriterLease(self, self.lease_times).held() as lease:
            self._lease = lease
            try:
                yield
            finally:
                self._lease = None

    def new_vector_store(self, dim: int) -> MilvusVectors:
        return MilvusVectors(self, None, dim, 0, 0, lambda pid: False)

    def commit(self, data: IndexData, docs_dir: Path, previous: dict[str, Any] | None) -> None:
        """Write the pending changes of ``data``'s views, then publish its manifest (see the module docstring)."""
        passages, sentences, dense, lexical = data.passages, data.sentence_vectors, data.dense, data.lexical
        assert isinstance(passages, MilvusPassages) and isinstance(sentences, MilvusSentenceVectors)
        assert isinstance(dense, MilvusVectors)
        self._ensure_meta()
        try:
            committed: dict[str, Any] | None = self.read_manifest()
        except (IndexNotFoundError, IndexCorruptError, IndexMismatchError):  # nothing usable committed: nothing to clean
            committed = None
        files = dict(data.manifest["files"])
        new_generation = not files
        if new_generation:
            files = self._create_collections(dense.dim)
        elif committed is not None and committed["files"] == files:
            self._clean_leftovers(committed, files)
        pending_tokens = lexical.pending_tokens
        added = sorted(passages._added)
        removed = sorted(passages._removed)
        seq = int((committed or {}).get("commit_seq", 0)) + 1
        manifest = dict(data.manifest)
        manifest.update(
            qa_version=__version__,
            updated=now(),
            docs_dir=str(docs_dir.resolve()),
            counts={"documents": len(manifest["documents"]), "passages": len(passages)},
            files=files,
            checksums={},
            commit_seq=seq,
            stale=removed,
        )
        delta: Counter[str] = Counter()
        try:
            self._insert_passages(files, added, passages._added, dense.pending, sentences._added, pending_tokens)
            if "df" in files:
                delta = self._update_frequencies(files, added, removed, pending_tokens, seq)
            if self._lease is not None:
                self._lease.check()  # a writer that lost its lease must not publish over another's commit
            self._publish(manifest, seq)
        except BaseException:
            if self._lease is None or not self._lease.lost:  # else the rows past next_id may be the new holder's
                self._roll_back(files, committed, new_generation, delta)
            raise
        self._wrote = True
        self._delete_ids(files, removed)
        if new_generation:
            self._swap_alias(files["passages"])
        self._drop_generations(keep=set(files.values()) | set((committed or {}).get("files", {}).values()))
        data.manifest = manifest
        fresh = self._data(manifest, lexical if isinstance(lexical, ClientBM25) else None)
        fresh.passages.remember({pid: passages._added[pid] for pid in added})  # type: ignore[attr-defined]
        data.passages, data.sentence_vectors, data.dense, data.lexical = fresh.passages, fresh.sentence_vectors, fresh.dense, fresh.lexical

    # ------------------------------------------------------------------ internals
    def _data(self, manifest: dict[str, Any], lexical: ClientBM25 | None = None) -> IndexData:
        files = manifest["files"]
        dim = int(manifest["settings"]["dim"] or 0)
        runs = sorted((info["first"], info["count"]) for info in manifest["documents"].values() if info["count"])
        ids = np.concatenate([np.arange(first, first + count, dtype=np.int64) for first, count in runs] or [np.zeros(0, np.int64)])
        passages = MilvusPassages(self, files.get("passages"), ids)
        sentences = MilvusSentenceVectors(self, files.get("sentences"), ids, dim)
        below = int(manifest["next_id"])  # rows of a commit not yet published have ids from next_id on: not searched
        dense = MilvusVectors(self, files.get("passages"), dim, len(ids), below, passages.__contains__) if dim else None
        full_text = "df" in files if files else self.full_text
        if full_text:
            store: Any = MilvusLexical(self, files.get("passages"), files.get("df"), len(ids), below, passages.__contains__)
        elif lexical is not None:
            lexical.clear_pending()
            store = lexical
        else:
            store = ClientBM25.read(self, files.get("passages"), ids)
        return IndexData(self, manifest, passages, sentences, dense, store)

    def _query(self, collection: str, expr: str, fields: list[str], consistency: str | None = None) -> list[dict[str, Any]]:
        return list(self.call("read rows", "query", collection, filter=expr, output_fields=fields,
                              consistency_level=consistency or self.reads()))

    def query_ids(self, collection: str, field: str, ids: Sequence[int], fields: list[str]) -> list[dict[str, Any]]:
        """Rows whose ``field`` is one of ``ids``, in batches (one round trip per READ_BATCH ids)."""
        rows: list[dict[str, Any]] = []
        for start in range(0, len(ids), READ_BATCH):
            chunk = [int(i) for i in ids[start : start + READ_BATCH]]
            rows += self._query(collection, f"{field} in {chunk}", fields)
        return rows

    def iterate(self, collection: str, fields: list[str]) -> Iterator[dict[str, Any]]:
        """Every row of ``collection`` (a query iterator, so memory stays at one batch)."""
        iterator = self.call("read rows", "query_iterator", collection, batch_size=READ_BATCH, filter="id >= 0",
                             output_fields=fields, consistency_level="Strong")
        try:
            while True:
                batch = iterator.next()
                if not batch:
                    return
                yield from batch
        finally:
            iterator.close()

    def _heads(self) -> list[tuple[str, dict[str, Any]]]:
        rows = self._query(self.meta, 'key like "head/%"', ["key", "value"], "Strong")
        heads = []
        for row in rows:
            try:
                heads.append((row["key"], json.loads(row["value"])))
            except (KeyError, json.JSONDecodeError):
                continue
        return sorted(heads, key=lambda kv: kv[0])

    def _ensure_meta(self) -> None:
        if self.call("list collections", "has_collection", self.meta):
            return
        from pymilvus import DataType

        schema = self.client.create_schema(auto_id=False)
        schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=256)
        schema.add_field("value", DataType.VARCHAR, max_length=MAX_TEXT)
        schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)  # Milvus 2.3 wants a vector field in every collection
        self._create(self.meta, schema, "v", "FLAT", "IP")

    def _create(self, name: str, schema: Any, vector_field: str, index_type: str, metric: str,
                extra: Callable[[Any], None] | None = None, index_params: dict[str, Any] | None = None) -> None:
        params = self.client.prepare_index_params()
        params.add_index(field_name=vector_field, index_type=index_type, metric_type=metric, params=index_params or {})
        if extra is not None:
            extra(params)
        options: dict[str, Any] = {}
        if self.where.shards and not self.where.lite:
            options["num_shards"] = self.where.shards
        self.call(f"create collection {name}", "create_collection", name, schema=schema, index_params=params,
                  consistency_level="Bounded", **options)
        if self.where.replicas and not self.where.lite:
            self.call(f"load collection {name}", "release_collection", name)
            self.call(f"load collection {name}", "load_collection", name, replica_number=self.where.replicas)

    def _create_collections(self, dim: int) -> dict[str, str]:
        from pymilvus import DataType, Function, FunctionType

        gen = f"{int(time.time())}_{secrets.token_hex(3)}"
        name = self.where.name
        files = {"passages": f"{name}__p_{gen}", "sentences": f"{name}__s_{gen}"}
        full_text = self.full_text
        schema = self.client.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("doc", DataType.VARCHAR, max_length=4096)
        schema.add_field("row", DataType.VARCHAR, max_length=MAX_TEXT)
        if full_text:
            schema.add_field("tokens", DataType.VARCHAR, max_length=MAX_TEXT, enable_analyzer=True,
                             analyzer_params={"tokenizer": "whitespace"})
            schema.add_field("bm25", DataType.SPARSE_FLOAT_VECTOR)
            schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                         input_field_names=["tokens"], output_field_names=["bm25"]))
        else:
            schema.add_field("tokens", DataType.VARCHAR, max_length=MAX_TEXT)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)

        def bm25_index(params: Any) -> None:
            params.add_index(field_name="bm25", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                             params={"bm25_k1": K1, "bm25_b": 0.75})

        kind = self.where.vector_index
        self._create(files["passages"], schema, "vector", kind, "IP", bm25_index if full_text else None, VECTOR_INDEXES[kind][0])
        schema = self.client.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("pid", DataType.INT64)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        self._create(files["sentences"], schema, "vector", "FLAT", "IP")
        if full_text:
            files["df"] = f"{name}__df_{gen}"
            schema = self.client.create_schema(auto_id=False)
            schema.add_field("token", DataType.VARCHAR, is_primary=True, max_length=1024)
            schema.add_field("df", DataType.INT64)
            schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)
            self._create(files["df"], schema, "v", "FLAT", "IP")
        return files

    def _clean_leftovers(self, committed: dict[str, Any], files: dict[str, str]) -> None:
        """Undo what an interrupted commit left: rows past ``next_id``, the last commit's stale rows,
        document frequencies of a commit that was never published."""
        self._delete_from(files, int(committed["next_id"]))
        self._delete_ids(files, committed.get("stale", []))
        if "df" in files:
            marker = self._query(files["df"], f'token == "{DF_MARKER}"', ["df"], "Strong")
            if not marker or int(marker[0]["df"]) != int(committed.get("commit_seq", 0)):
                self._recount_frequencies(files, int(committed.get("commit_seq", 0)))

    def _delete_from(self, files: dict[str, str], next_id: int) -> None:
        """Delete the rows of passages numbered from ``next_id`` on (never published)."""
        self.call("delete leftover rows", "delete", files["passages"], filter=f"id >= {next_id}")
        self.call("delete leftover rows", "delete", files["sentences"], filter=f"pid >= {next_id}")

    def _insert_passages(self, files: dict[str, str], added: list[int], rows: dict[int, Passage],
                         vectors: dict[int, np.ndarray], sentence_vectors: dict[int, np.ndarray],
                         tokens: dict[int, list[str]]) -> None:
        batch: list[dict[str, Any]] = []
        sentence_batch: list[dict[str, Any]] = []
        for pid in added:
            p = rows[pid]
            row = json.dumps(_passage_row(p), ensure_ascii=False)
            text = " ".join(tokens.get(pid, []))
            if len(row.encode("utf-8")) > MAX_TEXT or len(text.encode("utf-8")) > MAX_TEXT:
                raise BackendError(f"passage {pid} of {p.doc} is longer than a Milvus text field ({MAX_TEXT} bytes): "
                                   "index with a smaller --passage-chars")
            if len(p.sentences) >= SENTENCE_SLOTS:
                raise BackendError(f"passage {pid} of {p.doc} has {len(p.sentences)} sentences (at most {SENTENCE_SLOTS - 1})")
            batch.append({"id": pid, "doc": p.doc[:4000], "row": row, "tokens": text,
                          "vector": np.asarray(vectors[pid], dtype=np.float32)})
            block = np.asarray(sentence_vectors.get(pid, np.zeros((0, 0))), dtype=np.float32)
            sentence_batch += [{"id": pid * SENTENCE_SLOTS + j, "pid": pid, "vector": v} for j, v in enumerate(block)]
            if len(batch) >= WRITE_BATCH:
                self.call("insert passages", "insert", files["passages"], batch)
                batch = []
            if len(sentence_batch) >= WRITE_BATCH:
                self.call("insert sentence vectors", "insert", files["sentences"], sentence_batch)
                sentence_batch = []
        if batch:
            self.call("insert passages", "insert", files["passages"], batch)
        if sentence_batch:
            self.call("insert sentence vectors", "insert", files["sentences"], sentence_batch)

    def _update_frequencies(self, files: dict[str, str], added: list[int], removed: list[int],
                            tokens: dict[int, list[str]], seq: int) -> Counter[str]:
        """Apply the commit's change of each token's document frequency; returns it (for a roll-back)."""
        delta: Counter[str] = Counter()
        for pid in added:
            delta.update(set(tokens.get(pid, [])))
        for row in self.query_ids(files["passages"], "id", removed, ["tokens"]):
            delta.subtract(set(row["tokens"].split()))
        self._apply_frequencies(files["df"], delta, seq)
        return delta

    def _roll_back(self, files: dict[str, str], committed: dict[str, Any] | None, new_generation: bool,
                   delta: Counter[str]) -> None:
        """After a failed commit (an error, not a killed process): remove what it wrote, so Milvus's BM25
        statistics are the published index's again. Best effort: what is left, the next commit cleans."""
        try:
            if new_generation:
                for name in files.values():
                    self.call("drop a failed commit's collection", "drop_collection", name)
            elif committed is not None:
                self._delete_from(files, int(committed["next_id"]))
                if delta and "df" in files:
                    self._apply_frequencies(files["df"], Counter({t: -d for t, d in delta.items()}),
                                            int(committed.get("commit_seq", 0)))
        except Exception:  # noqa: BLE001 - the server may be what failed; the original error is what the user sees
            pass

    def _apply_frequencies(self, collection: str, delta: Counter[str], seq: int, replace: bool = False) -> None:
        changed = [t for t, d in delta.items() if d or replace]
        current: dict[str, int] = {}
        if not replace:
            for start in range(0, len(changed), READ_BATCH):
                chunk = changed[start : start + READ_BATCH]
                for row in self._query(collection, f"token in {json.dumps(chunk)}", ["token", "df"], "Strong"):
                    current[row["token"]] = int(row["df"])
        rows, gone = [], []
        for token in changed:
            value = current.get(token, 0) + delta[token]
            if value > 0:
                rows.append({"token": token, "df": value, "v": [0.0, 0.0]})
            elif token in current:
                gone.append(token)
        rows.append({"token": DF_MARKER, "df": seq, "v": [0.0, 0.0]})
        for start in range(0, len(rows), WRITE_BATCH):
            self.call("write document frequencies", "upsert", collection, rows[start : start + WRITE_BATCH])
        for start in range(0, len(gone), READ_BATCH):
            self.call("write document frequencies", "delete", collection, filter=f"token in {json.dumps(gone[start : start + READ_BATCH])}")

    def _recount_frequencies(self, files: dict[str, str], seq: int) -> None:
        """Document frequencies from every stored passage (after an interrupted commit)."""
        self.call("reset document frequencies", "delete", files["df"], filter='token != ""')
        counts: Counter[str] = Counter()
        for row in self.iterate(files["passages"], ["tokens"]):
            counts.update(set(row["tokens"].split()))
        self._apply_frequencies(files["df"], counts, seq, replace=True)

    def _publish(self, manifest: dict[str, Any], seq: int) -> None:
        """Write the manifest's chunks, then the head row naming them (the atomic step); drop older heads."""
        text = json.dumps(manifest, ensure_ascii=False)
        version = f"{seq:012d}_{secrets.token_hex(3)}"
        chunks = [text[i : i + MANIFEST_CHUNK] for i in range(0, len(text), MANIFEST_CHUNK)] or [""]
        rows = [{"key": f"manifest/{version}/{i:06d}", "value": c, "v": [0.0, 0.0]} for i, c in enumerate(chunks)]
        for start in range(0, len(rows), WRITE_BATCH):
            self.call("write the manifest", "insert", self.meta, rows[start : start + WRITE_BATCH])
        head = {"manifest": version, "chunks": len(chunks)}
        self.call("write the manifest", "insert", self.meta, [{"key": f"head/{seq:012d}", "value": json.dumps(head), "v": [0.0, 0.0]}])
        for key, old in self._heads():
            if key != f"head/{seq:012d}" and isinstance(old, dict):
                self.call("drop an old manifest", "delete", self.meta, filter=f'key like "manifest/{old.get("manifest")}/%"')
                self.call("drop an old manifest", "delete", self.meta, filter=f'key == "{key}"')

    def _delete_ids(self, files: dict[str, str], ids: Sequence[int]) -> None:
        for start in range(0, len(ids), READ_BATCH):
            chunk = [int(i) for i in ids[start : start + READ_BATCH]]
            self.call("delete passages", "delete", files["passages"], filter=f"id in {chunk}")
            self.call("delete sentence vectors", "delete", files["sentences"], filter=f"pid in {chunk}")

    def _drop_generations(self, keep: set[str]) -> None:
        """Drop this index's collections that neither the new manifest nor the one before it uses (as a
        folder keeps the previous generation one more commit, for readers that opened it a moment earlier)."""
        prefix = f"{self.where.name}__"
        for collection in self.call("list collections", "list_collections"):
            if collection.startswith(prefix) and collection != self.meta and collection not in keep:
                self.call("drop an old collection", "drop_collection", collection)

    def _swap_alias(self, collection: str) -> None:
        """Point the alias ``name`` at the new passages collection (servers only: Milvus Lite has no aliases)."""
        if self.where.lite:
            return
        alias = self.where.name
        if alias in self.call("list aliases", "list_aliases")["aliases"]:
            self.call("move the index alias", "alter_alias", collection, alias)
        else:
            self.call("create the index alias", "create_alias", collection, alias)


class _MilvusView(_OnDisk):
    """Values by passage id: changes since the last commit in memory, the rest read from one Milvus
    collection in batches (``get_many``) and kept once read (at most CACHE_LIMIT)."""

    def __init__(self, backend: MilvusBackend, collection: str | None, ids: np.ndarray) -> None:
        super().__init__(ids)
        self._backend = backend
        self._collection = collection
        self._cache: dict[int, Any] = {}

    def _value(self, i: int) -> Any:
        pid = int(self._ids[i])
        return self.get_many([pid])[pid]

    def get_many(self, ids: Iterable[int]) -> dict[int, Any]:
        """The values of ``ids`` that the index holds, in one round trip for those not read before."""
        out: dict[int, Any] = {}
        missing = []
        for pid in ids:
            if pid in self._added:
                out[pid] = self._added[pid]
            elif pid in self._cache:
                out[pid] = self._cache[pid]
            elif pid not in self._removed and self._position(pid) >= 0:
                missing.append(int(pid))
        if missing and self._collection:
            if len(self._cache) + len(missing) > CACHE_LIMIT:
                self._cache.clear()
            read = self._read(missing)
            self._cache.update(read)
            out.update(read)
        return out

    def _read(self, ids: list[int]) -> dict[int, Any]:
        raise NotImplementedError


class MilvusPassages(_MilvusView):
    """Passages by id (their JSON rows in the passages collection)."""

    def remember(self, passages: dict[int, Passage]) -> None:
        self._cache.update(passages)

    def _read(self, ids: list[int]) -> dict[int, Passage]:
        out: dict[int, Passage] = {}
        for row in self._backend.query_ids(self._collection or "", "id", ids, ["id", "row"]):
            try:
                passage = _passage_from_row(json.loads(row["row"]))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise IndexCorruptError(f"passage {row.get('id')} in {self._backend.location} is unreadable ({exc}); "
                                        "rebuild with `qa index --rebuild`") from None
            out[passage.id] = passage
        lost = next((pid for pid in ids if pid not in out), None)
        if lost is not None:
            raise IndexCorruptError(f"passage {lost} is in the manifest of {self._backend.location} but not in Milvus "
                                    "(a search at consistency Bounded may not see the last seconds' writes; else rebuild with `qa index --rebuild`)")
        return out


class MilvusSentenceVectors(_MilvusView):
    """Each passage's (sentences, dim) float16 rows (one row each in the sentences collection)."""

    def __init__(self, backend: MilvusBackend, collection: str | None, ids: np.ndarray, dim: int) -> None:
        super().__init__(backend, collection, ids)
        self._dim = dim

    def _read(self, ids: list[int]) -> dict[int, np.ndarray]:
        rows: dict[int, list[tuple[int, Any]]] = {pid: [] for pid in ids}
        for row in self._backend.query_ids(self._collection or "", "pid", ids, ["id", "pid", "vector"]):
            rows[int(row["pid"])].append((int(row["id"]), row["vector"]))
        return {pid: np.array([v for _, v in sorted(found, key=lambda r: r[0])], dtype=np.float16).reshape(-1, self._dim)
                for pid, found in rows.items()}


class MilvusVectors:
    """The vector store on Milvus: exact inner product (FLAT) over the passages collection."""

    def __init__(self, backend: MilvusBackend, collection: str | None, dim: int, count: int, below: int,
                 known: Callable[[int], bool]) -> None:
        self._backend = backend
        self._collection = collection
        self.dim = dim
        self._count = count
        self._below = below  # only ids the manifest has handed out are searched
        self._known = known  # and only those it lists are returned (rows of removed documents wait for a delete)
        self.pending: dict[int, np.ndarray] = {}  # written at the next commit, with their passages

    def __len__(self) -> int:
        return self._count

    @property
    def kind(self) -> str:
        return f"milvus-{self._backend.where.vector_index.lower()}"

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim or len(ids) != len(vectors):
            raise ValueError(f"expected {len(ids)} vectors of width {self.dim}, got {vectors.shape}")
        for pid, vector in zip(ids, vectors):
            if int(pid) not in self.pending:
                self._count += 1
            self.pending[int(pid)] = vector

    def remove(self, ids: Sequence[int]) -> None:
        """Forget ``ids`` (committed ones are deleted from Milvus by the next commit)."""
        for pid in ids:
            self.pending.pop(int(pid), None)
            self._count -= 1

    def search(self, queries: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        """Top ``k`` (id, cosine) pairs for each query vector, best first (committed passages only)."""
        if not self._collection or k <= 0 or not self._count:
            return [[] for _ in range(len(queries))]
        results = self._backend.call(
            "search vectors", "search", self._collection, data=np.asarray(queries, dtype=np.float32).tolist(),
            anns_field="vector", limit=min(k, MAX_SEARCH), output_fields=[],
            search_params={"metric_type": "IP", "params": VECTOR_INDEXES[self._backend.where.vector_index][1]},
            filter=f"id < {self._below}", consistency_level=self._backend.reads())
        return [sorted(((int(h["id"]), float(h["distance"])) for h in hits if self._known(int(h["id"]))),
                       key=lambda r: (-r[1], r[0])) for hits in results]

    def save(self, path: str | Path) -> None:
        raise NotImplementedError("a Milvus vector store is written by MilvusBackend.commit")


class MilvusLexical:
    """BM25 by Milvus full-text search; document frequencies (for idf) from the df collection."""

    def __init__(self, backend: MilvusBackend, collection: str | None, frequencies: str | None, count: int, below: int,
                 known: Callable[[int], bool]) -> None:
        self._backend = backend
        self._collection = collection
        self._frequencies = frequencies
        self._count = count
        self._below = below
        self._known = known
        self.pending_tokens: dict[int, list[str]] = {}
        self._df: dict[str, int] = {}  # of the current question's tokens (read once per search)

    def __len__(self) -> int:
        return self._count

    def add(self, ids: Sequence[int], texts: Sequence[str]) -> None:
        for pid, text in zip(ids, texts, strict=True):
            if int(pid) not in self.pending_tokens:
                self._count += 1
            self.pending_tokens[int(pid)] = tokenize(text)

    def remove(self, ids: Sequence[int]) -> None:
        for pid in ids:
            self.pending_tokens.pop(int(pid), None)
            self._count -= 1

    def search(self, query: str | list[str], k: int) -> list[tuple[int, float]]:
        """Top ``k`` (id, BM25 score) pairs, best first; ties by id, as ``BM25Store``."""
        tokens = tokenize(query) if isinstance(query, str) else list(query)
        self._read_frequencies(tokens)
        if not tokens or not self._collection or k <= 0 or not self._count:
            return []
        results = self._backend.call(
            "search BM25", "search", self._collection, data=[" ".join(tokens)], anns_field="bm25",
            # twice as many: of the passages tied at the cut, keep the lowest ids, as BM25Store does
            limit=min(2 * k, MAX_SEARCH), search_params={"metric_type": "BM25"}, output_fields=[],
            filter=f"id < {self._below}", consistency_level=self._backend.reads())
        hits = [(int(h["id"]), float(h["distance"]) / (K1 + 1)) for h in results[0] if self._known(int(h["id"]))]
        return sorted((h for h in hits if h[1] > 0), key=lambda r: (-round(r[1], 5), r[0]))[:k]

    def idf(self, token: str) -> float:
        if not self._count:
            return 0.0
        if token not in self._df:
            self._read_frequencies([token], keep=True)
        return float(_idf(self._df.get(token, 0), self._count))

    def _read_frequencies(self, tokens: list[str], keep: bool = False) -> None:
        """One round trip for the question's tokens (what idf is asked for next)."""
        if not keep:
            self._df = {}
        wanted = sorted(set(tokens) - set(self._df))
        if not wanted or not self._frequencies:
            return
        for row in self._backend._query(self._frequencies, f"token in {json.dumps(wanted)}", ["token", "df"]):
            self._df[row["token"]] = int(row["df"])
        for token in wanted:
            self._df.setdefault(token, 0)


class ClientBM25(BM25Store):
    """For servers without full-text search: a ``BM25Store`` in memory, built from the tokens stored in Milvus."""

    def __init__(self) -> None:
        super().__init__()
        self.pending_tokens: dict[int, list[str]] = {}

    def add(self, ids: Sequence[int], texts: Sequence[str]) -> None:
        token_lists = [tokenize(text) for text in texts]
        self.add_tokens(ids, token_lists)  # (removes each id first: record the tokens after)
        self.pending_tokens.update(zip((int(i) for i in ids), token_lists))

    def remove(self, ids: Sequence[int]) -> None:
        for pid in ids:
            self.pending_tokens.pop(int(pid), None)
        super().remove(ids)

    def clear_pending(self) -> None:
        self.pending_tokens = {}

    @classmethod
    def read(cls, backend: MilvusBackend, collection: str | None, listed: np.ndarray) -> ClientBM25:
        """The passages ``listed`` by the manifest (rows of an unfinished commit are left out)."""
        store = cls()
        if collection:
            ids, token_lists = [], []
            for row in backend.iterate(collection, ["id", "tokens"]):
                pid = int(row["id"])
                i = int(np.searchsorted(listed, pid))
                if i < len(listed) and int(listed[i]) == pid:
                    ids.append(pid)
                    token_lists.append(row["tokens"].split())
            store.add_tokens(ids, token_lists)
            store.refresh()
        return store


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0][:300] if lines else type(exc).__name__) or type(exc).__name__


