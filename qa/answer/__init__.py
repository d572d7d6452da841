"""Answering: score the sentences of the retrieved passages, read the best with a cross-encoder, answer or refuse."""
