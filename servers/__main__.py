"""`python -m servers …`: serve one company, or bring the whole local network up and down."""

from servers.cli import main

main()
