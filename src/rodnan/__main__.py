"""Allow ``python -m rodnan``."""

from rodnan.cli.app import main

main()
