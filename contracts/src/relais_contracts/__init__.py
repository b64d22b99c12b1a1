"""relais_contracts."""
