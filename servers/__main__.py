"""`python -m servers serve …`: serve one company (the whole network's commands: `python -m federation`)."""

from servers.cli import main

main()
