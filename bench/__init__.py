"""The benchmark of the server: a load generator, the servers it is measured against, the runner."""
