"""docqa: extractive question answering over your own documents, with citations.

Heavy libraries (faiss, bm25s, sentence-transformers) load only when used,
so ``import qa`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Answer", "Citation", "Hit", "Index", "Passage", "Query", "Settings", "UpdateReport",
    "QAError", "DocumentsError", "IndexNotFoundError", "IndexMismatchError",
    "IndexCorruptError", "ModelNotFoundError", "QuestionError", "__version__",
]

_LOCATIONS = {
    "Answer": "types", "Citation": "types", "Hit": "types", "Passage": "types",
    "Index": "index", "UpdateReport": "store.update", "Settings": "config", "Query": "query",
    "QAError": "errors", "DocumentsError": "errors", "IndexNotFoundError": "errors",
    "IndexMismatchError": "errors", "IndexCorruptError": "errors",
    "ModelNotFoundError": "errors", "QuestionError": "errors",
}

if TYPE_CHECKING:
    from qa.config import Settings
    from qa.errors import (
        DocumentsError,
        IndexCorruptError,
        IndexMismatchError,
        IndexNotFoundError,
        ModelNotFoundError,
        QAError,
        QuestionError,
    )
    from qa.index import Index
    from qa.query import Query
    from qa.store.update import UpdateReport
    from qa.types import Answer, Citation, Hit, Passage


def __getattr__(name: str) -> Any:
    if name in _LOCATIONS:
        import importlib

        return getattr(importlib.import_module(f".{_LOCATIONS[name]}", __name__), name)
    raise AttributeError(f"module 'qa' has no attribute {name!r}")
