"""The Streamlit dashboards: book a trip, drive it, watch the network, travel back through a server's log."""
