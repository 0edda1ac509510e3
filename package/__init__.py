"""CalicoMonitoring as a Pulumi component package, served by the Python component provider host."""
