"""Storage on the file system: one machine, or directories every replica mounts."""
