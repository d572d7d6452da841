"""Ingesting documents: extract text by format, split it into sentences and sentence-aware passages."""
