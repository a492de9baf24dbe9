"""The pure core: the network data, vehicles and the trip planner (no sockets, no I/O at import)."""
