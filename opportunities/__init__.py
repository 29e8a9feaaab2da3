"""Leads, pipelines, opportunities and the funnel (issue 7). Not installed until it has models."""
