"""The TensorFlow side of a model: loading and saving, devices and strategies, batches, the forward pass."""
