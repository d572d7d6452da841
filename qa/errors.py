"""Errors a user can cause. The CLI turns each into one line and a non-zero exit."""

from __future__ import annotations


class QAError(Exception):
    """Base class: a problem the user can fix; its message says how."""

    exit_code = 2


class DocumentsError(QAError):
    """The documents folder is missing, empty, or holds nothing indexable."""


class IndexNotFoundError(QAError):
    """No index has been built at the given location yet."""


class IndexMismatchError(QAError):
    """The index was built with another format version, model or settings."""


class IndexCorruptError(QAError):
    """An index file is truncated, tampered with or unreadable."""


class ModelNotFoundError(QAError):
    """The embedding model (or the package that ships it) is not available."""


class QuestionError(QAError):
    """The question is empty or otherwise unusable."""


class BackendError(QAError):
    """The index's storage server cannot be reached or refused a request (a Milvus index)."""


class ClusterError(QAError):
    """The Dask cluster given with --workers cannot be reached or failed a task."""
