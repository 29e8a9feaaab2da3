"""Risk rules, alerts and their SLA, customer risk rating. Not installed until it has models."""
