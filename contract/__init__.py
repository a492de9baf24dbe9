"""The contract shared by servers and clients: message models, MQTT topics and socket helpers."""
