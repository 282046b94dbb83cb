"""mallctl: manage a Mall Edge stack (lua-free-scripts/mallctl is the entry point)."""
