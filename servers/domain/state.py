"""`servers.domain.state:FOLD`, the fold's name as logs and snapshots store it: the fold of `servers.bookings.state`."""

from servers.bookings.state import FOLD as FOLD
