"""`python -m flowforge_compiler.cli` runs `ffc`."""

from flowforge_compiler.cli import main

main()
