"""Contact log, tasks and reminders, the RM workbench (issue 6). Not installed until it has models."""
