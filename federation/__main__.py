"""`python -m federation …`: bring the whole local network up and down, check its logs, write its configs."""

from federation.cli import main

main()
