from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = _("Customers")

    def ready(self) -> None:
        from crm_site.exports import Exporter, register_exporter
        from org import scoping

        from . import jobs  # noqa: F401
        from .models import (
            Account,
            Customer,
            CustomerGroupObjectPermission,
            CustomerTag,
            CustomerUserObjectPermission,
            Transaction,
        )

        scoping.register(
            Customer,
            branch_field="home_branch",
            owner_field="primary_rm",
            user_grant_model=CustomerUserObjectPermission,
            group_grant_model=CustomerGroupObjectPermission,
        )
        for child in (Account, Transaction, CustomerTag):
            scoping.register(child, through="customer")
        from .panels import register_customer_panels

        register_customer_panels()
        from . import rfm_panel  # noqa: F401  (registers the RFM panel and scoping)
        from .models import DataQualitySnapshot

        # A day's counts of one branch and RM: a manager sees the branch's rows, an RM their own.
        scoping.register(DataQualitySnapshot, branch_field="branch", owner_field="rm")
        from .pii import PII_FIELDS
        from .services import customer_export_source

        register_exporter("customers", Exporter(
            source=customer_export_source, permission="customers.export_customer",
            reveal_permission="customers.reveal_customer_pii", object_type="customers.customer",
            pii_fields=tuple(PII_FIELDS)))
