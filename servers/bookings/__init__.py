"""The pure core of a company server: its events, the state they fold into, and the booking decisions."""
