"""Source data in, prepared features out: sources, sample data, tokenization, prep, inspection."""
