"""recarga's servers: one company's booking server, its pure core, and the network data."""
