"""q2: character-level text generation: predict the next character of a corpus."""
