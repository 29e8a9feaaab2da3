"""Business actions on customers: one function each, one transaction, audited."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from guardian.shortcuts import assign_perm, remove_perm

from org import scoping
from org.audit import audit_record
from org.models import AuditEntry

from .models import Customer


@transaction.atomic
def customer_share(*, customer: Customer, with_user: Any, actor: Any) -> Customer:
    """Let a covering member of staff see one customer they would not otherwise see."""
    if not actor.has_perm("customers.share_customer") or not scoping.can_see(actor, customer):
        raise PermissionDenied(_("You may not share this customer."))
    if not with_user.is_active:
        raise ValidationError({"with_user": _("A deactivated account cannot be given access.")})
    assign_perm("customers.view_customer", with_user, customer)
    audit_record(action=AuditEntry.Action.PERMISSION_CHANGE, actor=actor, obj=customer,
                 detail={"granted_to": with_user.username, "permission": "view_customer"})
    return customer


@transaction.atomic
def customer_unshare(*, customer: Customer, with_user: Any, actor: Any) -> Customer:
    """Withdraw a covering grant."""
    if not actor.has_perm("customers.share_customer") or not scoping.can_see(actor, customer):
        raise PermissionDenied(_("You may not change who sees this customer."))
    remove_perm("customers.view_customer", with_user, customer)
    audit_record(action=AuditEntry.Action.PERMISSION_CHANGE, actor=actor, obj=customer,
                 detail={"revoked_from": with_user.username, "permission": "view_customer"})
    return customer
