"""Version 1 of the Relais messages."""
