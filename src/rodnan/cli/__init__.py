"""The rodnan command line (typer): thin commands over the core."""
