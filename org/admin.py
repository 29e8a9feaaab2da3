from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from .admin_mixins import ReadOnlyAdminMixin
from .models import AuditEntry, Branch, User


@admin.register(Branch)
class BranchAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "parent", "is_active")
    list_filter = ("kind", "is_active")
    search_fields = ("code", "name")
    list_select_related = ("parent",)
    readonly_fields = ("path",)
    autocomplete_fields = ("parent",)

    def has_delete_permission(self, request, obj=None):
        return False  # branches are deactivated, never deleted: staff and customers point at them


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "full_name", "employee_no", "branch", "role_names", "is_active", "last_login")
    list_filter = ("is_active", "is_staff", "groups", "branch__kind")
    search_fields = ("username", "full_name", "employee_no", "email")
    list_select_related = ("branch",)
    autocomplete_fields = ("branch",)
    ordering = ("username",)
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Person"), {"fields": ("full_name", "employee_no", "email", "branch")}),
        (_("Roles and access"), {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "full_name", "employee_no", "branch",
                                                 "password1", "password2")}),
    )
    readonly_fields = ("last_login", "date_joined")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    def has_delete_permission(self, request, obj=None):
        return False  # staff accounts are deactivated, never deleted or reused

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            # Only a superuser may make superusers or hand out single permissions.
            fields += ["is_superuser", "user_permissions"]
        return fields

    @admin.display(description=_("roles"))
    def role_names(self, obj):
        from .roles import Role

        labels = dict(Role.choices)
        return ", ".join(str(labels.get(group.name, group.name)) for group in obj.groups.all())


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("occurred_at", "actor_username", "ip_address", "action", "object_type", "object_id", "fields")
    list_filter = ("action",)
    search_fields = ("actor_username", "object_id")
    show_full_result_count = False
