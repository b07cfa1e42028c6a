"""`python -m flowforge.cli` runs `ffc`."""

from flowforge.cli import main

main()
