"""Storage in one PostgreSQL database: replicas on many machines share nothing else."""
