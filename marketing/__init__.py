"""Campaigns, consent, message templates and triggers. Not installed until it has models."""
