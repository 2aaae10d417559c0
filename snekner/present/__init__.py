"""What a person reads: text tables, plots, the model card."""
