"""q3: tweet classification with contextual embeddings + LSTM, and T5."""
