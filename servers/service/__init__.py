"""The service layer: commands that read the folded state, decide, and append events."""
