"""Documents in, a searchable index out. Knows nothing of answering (that is `rag`)."""
