"""Scheduled jobs of the reports app."""

from django.utils.translation import gettext_lazy as _

from crm_site.jobs import JobProgress, job


@job("import_files_purge", label=_("Purge import files past their retention"))
def import_files_purge(progress: JobProgress) -> None:
    from .imports import import_files_purge as purge

    progress.advance(purge(), changed=0)
