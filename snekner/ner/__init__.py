"""Labels, tagsets, BIO chunking and word-level scoring: used by every layer."""
