"""Retrieval: question and passage encoders, the dense and BM25 stores, score fusion, the hybrid retriever."""
