"""Retail's "bring data in" layer: the store databases' table layout (`store_schema`) and reading them
(`stores`: SQLAlchemy engines with the password kept out of logs, retried reads, quarantine of broken rows)."""
