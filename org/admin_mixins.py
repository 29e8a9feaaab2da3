"""Django admin helpers shared by every app: admin lists and change pages use the same scoping."""

from django.http import Http404

from org import scoping


class ScopedAdminMixin:
    """Non-superusers see in admin exactly the rows org.scoping lets them see; others answer 404."""

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return scoping.visible(request.user, queryset)

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        # Admin's default answer to an unknown id is a redirect with "doesn't exist"; a row the user
        # may not see must look exactly like a missing one everywhere, so both are a 404.
        raise Http404


class ReadOnlyAdminMixin:
    """For records nobody edits (audit trail, job runs)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
