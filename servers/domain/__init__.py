"""Only a name kept for the logs: the booking code lives in `servers.bookings` (this package's old name).

Every log's meta `fold` and every snapshot's key say `servers.domain.state:FOLD`; `servers.domain.state`
keeps that name importable, so `recarga-events state` still finds the fold of old and new logs alike.
"""
