from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from crm_site.masking import mask_name


class Customer(models.Model):
    """A customer of the bank, keyed by the customer number core banking gives it.

    Never hard-deleted: a closed (注销) customer keeps its row with lifecycle status "closed".
    """

    class Kind(models.TextChoices):
        INDIVIDUAL = "individual", _("Individual")
        CORPORATE = "corporate", _("Corporate")

    class Lifecycle(models.TextChoices):
        PROSPECT = "prospect", _("Prospect")
        ACTIVE = "active", _("Active")
        DORMANT = "dormant", _("Dormant")
        CLOSED = "closed", _("Closed")

    customer_no = models.CharField(
        _("customer number"), max_length=32, help_text=_("The customer number assigned by core banking.")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.INDIVIDUAL)
    name = models.CharField(_("name"), max_length=200, help_text=_("Legal name as on the identity document."))
    home_branch = models.ForeignKey(
        "org.Branch", verbose_name=_("home branch"), on_delete=models.PROTECT, related_name="customers"
    )
    primary_rm = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("relationship manager"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="customers",
    )
    lifecycle_status = models.CharField(
        _("lifecycle status"), max_length=16, choices=Lifecycle.choices, default=Lifecycle.ACTIVE
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["name", "id"]
        permissions = [
            ("share_customer", _("Can share a customer with a covering relationship manager")),
        ]
        # Declared explicitly so that no unused varchar_pattern_ops index slows bulk loads.
        constraints = [models.UniqueConstraint(fields=["customer_no"], name="customers_customer_no_unique")]
        indexes = [
            models.Index(fields=["home_branch", "primary_rm", "name", "id"], name="cust_branch_rm_name"),
            models.Index(fields=["primary_rm", "name", "id"], name="cust_rm_name"),
            models.Index(fields=["name", "id"], name="cust_name_id"),
        ]

    def __str__(self) -> str:
        # Masked: __str__ reaches admin messages, logs and the audit trail.
        shown = self.name if self.kind == self.Kind.CORPORATE else mask_name(self.name)
        return f"{self.customer_no} {shown}"

    def get_absolute_url(self) -> str:
        return reverse("customers:customer-detail", args=[self.pk])


class CustomerUserObjectPermission(UserObjectPermissionBase):
    """A grant of one customer to one member of staff (guardian, direct foreign key: indexed)."""

    content_object = models.ForeignKey(Customer, on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        verbose_name = _("customer grant to a user")
        verbose_name_plural = _("customer grants to users")


class CustomerGroupObjectPermission(GroupObjectPermissionBase):
    """A grant of one customer to a team (a Group)."""

    content_object = models.ForeignKey(Customer, on_delete=models.CASCADE)

    class Meta(GroupObjectPermissionBase.Meta):
        verbose_name = _("customer grant to a team")
        verbose_name_plural = _("customer grants to teams")
