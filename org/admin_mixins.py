"""Django admin helpers shared by every app: admin lists and change pages use the same scoping."""

from org import scoping


class ScopedAdminMixin:
    """Non-superusers see in admin exactly the rows org.scoping lets them see; others answer 404."""

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return scoping.visible(request.user, queryset)


class ReadOnlyAdminMixin:
    """For records nobody edits (audit trail, job runs)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
