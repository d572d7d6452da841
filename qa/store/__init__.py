"""The index on disk: manifest, passages and sentence vectors, and the incremental update that commits them."""
