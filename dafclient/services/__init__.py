"""One module per DAF service: its shared plans and its sync and async clients."""
