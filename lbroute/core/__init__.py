"""The pure core: domain types and decisions, no I/O. Adapters translate to and from it."""
