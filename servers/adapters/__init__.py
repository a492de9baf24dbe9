"""Adapters from the service layer to the outside: peer HTTP client, MQTT gateway, broker credentials."""
