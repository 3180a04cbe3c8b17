"""The runtime library the three services import: settings, database, server
lifecycle, errors, logging, taxonomy, and the generated gRPC code under
complaints.v1. It never imports a service or the tools (ops/)."""
