"""Dataset rules: the format of each model family, streaming validation, and preparation of raw question/answer data."""
