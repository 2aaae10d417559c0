"""Scoring a run on a prepared split, comparing runs, the paired bootstrap."""
