"""One module per service: its storage and its HTTP routes."""
