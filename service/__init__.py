"""Tickets, SLA clocks, satisfaction and the knowledge base. Not installed until it has models."""
