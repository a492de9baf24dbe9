"""The names of a company server's events (past tense), one constant each."""

# Accounts (home company).
ACCOUNT_OPENED = "AccountOpened"
TOKEN_ISSUED = "TokenIssued"
TOKEN_REVOKED = "TokenRevoked"
BROKER_CREDENTIALS_ISSUED = "BrokerCredentialsIssued"
CREDIT_ADDED = "CreditAdded"
TRIP_DEBITED = "TripDebited"
TRIP_REFUNDED = "TripRefunded"
VEHICLE_UPDATED = "VehicleUpdated"

# Trips (coordinator).
TRIP_REQUESTED = "TripRequested"
TRIP_VOTE_RECORDED = "TripVoteRecorded"
TRIP_COMMITTED = "TripCommitted"
TRIP_ABORTED = "TripAborted"
TRIP_CANCELLED = "TripCancelled"
TRIP_PARTICIPANT_ACKED = "TripParticipantAcked"
TRIP_STOP_CHECKED_IN = "TripStopCheckedIn"
REQUEST_ANSWERED = "RequestAnswered"

# Holds and reservations (participant).
HOLDS_PLACED = "HoldsPlaced"
PREPARE_REFUSED = "PrepareRefused"
HOLDS_CONFIRMED = "HoldsConfirmed"
HOLDS_RELEASED = "HoldsReleased"
HOLD_DEADLINE_EXTENDED = "HoldDeadlineExtended"
CHARGING_STARTED = "ChargingStarted"
CHARGING_FINISHED = "ChargingFinished"
NO_SHOW_RECORDED = "NoShowRecorded"
POINT_STATUS_CHANGED = "PointStatusChanged"
