"""Code shared by the three services: settings, database, server lifecycle,
errors, logging, taxonomy, and the generated gRPC code under complaints.v1."""
