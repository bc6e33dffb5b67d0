"""Local stand-ins for outside services (marketplace, GitHub, data downloads)."""
