"""Console routes, one module per area; each module exposes ``router`` (paths relative to /console)."""
