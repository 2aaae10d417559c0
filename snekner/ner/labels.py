"""Label conventions shared by every layer."""

# the label id a sub-word gets when the loss ignores it (special tokens, later sub-words of a
# word when only the first is labelled, padding): the value Keras and transformers skip
IGNORE = -100
