"""Contact log, customer timeline, tasks and reminders, notifications, messages to customers, the workbench."""
