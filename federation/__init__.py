"""The whole network's tooling: start and stop it, configure and deploy it, check its logs, export its API."""
