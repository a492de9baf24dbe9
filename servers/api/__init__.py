"""The HTTP edge of a company server: public `/api/v1` and peer `/peer/v1`."""
