"""The simulated vehicle: MQTT client library (`vehicle_sim.client`), terminal client and fleet."""
