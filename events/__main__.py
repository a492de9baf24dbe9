"""`python -m events …`: the replay CLI."""

from events.cli import main

if __name__ == "__main__":
    main()
