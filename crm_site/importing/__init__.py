"""The generic bulk-import engine: file reception, encoding detection, streaming readers, chunked
validation, COPY into a per-job staging table, set-based commit and revert.

An app plugs a model in with a django-import-export `ModelResource` that also subclasses
`crm_site.importing.spec.FastImport` (see customers/resources.py) and registers it with
`crm_site.importing.register()`; reports/imports.py drives the pipeline for every registered kind.
"""

from .spec import FastImport, ImportColumn, RowError, get_resource, register, registered_kinds

__all__ = ["FastImport", "ImportColumn", "RowError", "get_resource", "register", "registered_kinds"]
