"""relais_runtime."""
