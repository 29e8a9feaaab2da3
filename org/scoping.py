"""Who sees which rows: the one place that turns (user, queryset) into the rows that user may see.

- a relationship manager sees the customers whose primary RM they are;
- every other role sees its home branch and everything under it (a head-office user therefore
  sees the whole bank);
- django-guardian grants add single rows on top (a customer shared with a covering RM);
- superusers see everything.

Apps register their models with `register()`: a model that belongs to a customer registers
`through="customer"` and is visible exactly when its customer is. Views fetch single rows with
`access()`, which answers 404 both for rows that do not exist and for rows the user may not see,
so ids never leak. A global "view" permission never widens the rows (guardian's
accept_global_perms is not used).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import models
from django.db.models import Q, QuerySet
from django.http import Http404

from .models import Branch
from .roles import ROLE_REACH, Reach

M = TypeVar("M", bound=models.Model)


@dataclass(frozen=True)
class Rule:
    """How to reach a row's branch, owner and grants, as ORM lookups from the model."""

    branch_field: str
    owner_field: str | None = None
    # Guardian direct-foreign-key grant models (user and group) whose `content_object` points at
    # the row found at `grant_target` ("" = the row itself, "customer" = its customer).
    user_grant_model: type[models.Model] | None = None
    group_grant_model: type[models.Model] | None = None
    grant_target: str = ""


_rules: dict[type[models.Model], Rule] = {}


def register(
    model: type[models.Model],
    *,
    branch_field: str | None = None,
    owner_field: str | None = None,
    user_grant_model: type[models.Model] | None = None,
    group_grant_model: type[models.Model] | None = None,
    through: str | None = None,
) -> None:
    """Plug a model into scoping, directly or through the row it belongs to (`through="customer"`)."""
    if through:
        parent_model = model._meta.get_field(through).related_model
        parent = _rules[parent_model]
        prefix = f"{through}__"
        _rules[model] = Rule(
            branch_field=prefix + parent.branch_field,
            owner_field=prefix + parent.owner_field if parent.owner_field else None,
            user_grant_model=parent.user_grant_model,
            group_grant_model=parent.group_grant_model,
            grant_target=prefix + parent.grant_target if parent.grant_target else through,
        )
        return
    if branch_field is None:
        raise ValueError("register() needs branch_field or through")
    _rules[model] = Rule(branch_field, owner_field, user_grant_model, group_grant_model)


def rule_for(model: type[models.Model]) -> Rule:
    try:
        return _rules[model]
    except KeyError:
        raise LookupError(f"{model._meta.label} is not registered with org.scoping") from None


@dataclass(frozen=True)
class Reachable:
    """What a user reaches before grants: everything, a branch subtree, their own rows, or nothing."""

    everything: bool = False
    branch: Branch | None = None
    own: bool = False


def reach_of(user: Any) -> Reachable:
    """The widest reach among the user's roles (cached on the user object for the request)."""
    cached = getattr(user, "_crm_reach", None)
    if cached is not None:
        return cached
    if not user.is_authenticated or not user.is_active:
        reach = Reachable()
    elif user.is_superuser:
        reach = Reachable(everything=True)
    else:
        role_names = set(user.groups.values_list("name", flat=True))
        reaches = {ROLE_REACH[name] for name in role_names if name in ROLE_REACH}
        branch = user.branch if user.branch_id else None
        if Reach.BRANCH in reaches and branch is not None:
            reach = Reachable(everything=branch.parent_id is None, branch=branch)
        else:
            reach = Reachable(own=Reach.OWN in reaches)
    user._crm_reach = reach
    return reach


def branch_subtree_ids(branch: Branch) -> QuerySet[Branch]:
    return Branch.objects.filter(path__startswith=branch.path).values("pk")


def visible(user: Any, queryset: QuerySet[M]) -> QuerySet[M]:
    """The rows of `queryset` that `user` may see."""
    rule = rule_for(queryset.model)
    reach = reach_of(user)
    if reach.everything:
        return queryset
    if not user.is_authenticated or not user.is_active:
        return queryset.none()
    condition = Q(pk__in=[])
    if reach.branch is not None:
        condition |= Q(**{f"{rule.branch_field}__in": branch_subtree_ids(reach.branch)})
    if reach.own and rule.owner_field:
        condition |= Q(**{rule.owner_field: user.pk})
    condition |= _granted(user, rule)
    return queryset.filter(condition)


def _granted(user: Any, rule: Rule) -> Q:
    """Rows shared with the user (or one of their groups) through a guardian view grant."""
    target = rule.grant_target or "pk"
    condition = Q(pk__in=[])
    if rule.user_grant_model is not None:
        granted = rule.user_grant_model.objects.filter(
            user_id=user.pk, permission__codename__startswith="view_"
        ).values("content_object_id")
        condition |= Q(**{f"{target}__in": granted})
    if rule.group_grant_model is not None:
        granted = rule.group_grant_model.objects.filter(
            group__user=user.pk, permission__codename__startswith="view_"
        ).values("content_object_id")
        condition |= Q(**{f"{target}__in": granted})
    return condition


def can_see(user: Any, obj: models.Model) -> bool:
    return visible(user, type(obj)._default_manager.filter(pk=obj.pk)).exists()


def access(user: Any, queryset: QuerySet[M] | type[M], pk: Any) -> M:
    """Fetch one visible row or raise Http404 — the same answer for missing and forbidden rows."""
    if isinstance(queryset, type):
        queryset = queryset._default_manager.all()
    try:
        return visible(user, queryset).get(pk=pk)
    except (queryset.model.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
