"""The shop test kit: small local shops that paginate the way real ones do, each with its site profile."""
