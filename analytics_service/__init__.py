"""Answers every dashboard and read query of the officers' frontend gateway,
from pre-computed tables, with a read-only role that cannot see who complained."""
