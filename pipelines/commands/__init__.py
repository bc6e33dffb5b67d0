"""`storefront` subcommands, one module each."""
