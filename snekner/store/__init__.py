"""Artifacts on disk: typed, versioned manifests of prepared data and runs, and atomic writes."""
