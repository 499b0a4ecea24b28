"""The built-in lifecycles, as TOML data files."""
