"""`python -m mosquitto …`: the broker tooling's command line (mosquitto.cli)."""

import sys

from mosquitto.cli import main

sys.exit(main(prog_name="python -m mosquitto"))
