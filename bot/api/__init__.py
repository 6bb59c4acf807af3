"""JSON APIs for other systems (the port's gate system), authenticated by bearer token."""
