"""The Docker-compatible `hull` command line."""
