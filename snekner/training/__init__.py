"""Fine-tuning: options, the optimizer, the training loop and its callbacks."""
