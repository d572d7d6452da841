"""Settings that shape an index. Changing any of them means re-embedding everything."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from qa.retrieval.encoder import DEFAULT_MODEL


@dataclass(frozen=True)
class Settings:
    """Index-time settings, stored in the manifest.

    Args:
        model: sentence-transformers model name or local folder.
        passage_chars: longest passage, in characters (whole sentences are kept).
        overlap_chars: how much a window of a long paragraph repeats of the one before.
    """

    model: str = DEFAULT_MODEL
    passage_chars: int = 800
    overlap_chars: int = 200

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise ValueError(f"model must be a model name or folder, got {self.model!r}")
        for name in ("passage_chars", "overlap_chars"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"{name} must be a whole number, got {value!r}")
        if self.passage_chars < 50:
            raise ValueError(f"passage_chars must be at least 50, got {self.passage_chars}")
        if not 0 <= self.overlap_chars < self.passage_chars:
            raise ValueError(
                f"overlap_chars must be >= 0 and smaller than passage_chars ({self.passage_chars}), got {self.overlap_chars}"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Settings:
        return cls(**{k: data[k] for k in ("model", "passage_chars", "overlap_chars") if k in data})

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with every non-None keyword applied."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})
