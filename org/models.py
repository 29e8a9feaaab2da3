from django.contrib.auth.models import AbstractUser
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models.functions import Concat, Substr
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Branch(models.Model):
    """A node of the bank's tree: head office > branch > sub-branch > outlet.

    `path` is the materialised chain of codes ("HO/BJ/BJ01/"), so a whole subtree is one
    indexed prefix match however deep the tree is.
    """

    class Kind(models.TextChoices):
        HEAD_OFFICE = "head_office", _("Head office")
        BRANCH = "branch", _("Branch")
        SUB_BRANCH = "sub_branch", _("Sub-branch")
        OUTLET = "outlet", _("Outlet")

    # A kind's parent must be of the kind before it.
    PARENT_KIND = {
        Kind.BRANCH: Kind.HEAD_OFFICE,
        Kind.SUB_BRANCH: Kind.BRANCH,
        Kind.OUTLET: Kind.SUB_BRANCH,
    }

    code = models.CharField(_("code"), max_length=16, unique=True, help_text=_("The bank's branch code."))
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    parent = models.ForeignKey(
        "self", verbose_name=_("parent"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    path = models.CharField(_("path"), max_length=255, editable=False)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("branch")
        verbose_name_plural = _("branches")
        ordering = ["path"]
        indexes = [models.Index(fields=["path"], name="org_branch_path_prefix", opclasses=["text_pattern_ops"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind="head_office", parent__isnull=True)
                | (~models.Q(kind="head_office") & models.Q(parent__isnull=False)),
                name="org_branch_only_head_office_is_root",
                violation_error_message=_("Only the head office has no parent branch."),
            ),
            models.CheckConstraint(
                condition=models.Q(code__regex=r"^[A-Za-z0-9_-]+$"),
                name="org_branch_code_charset",
                violation_error_message=_("A branch code uses letters, digits, '-' and '_' only."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def save(self, *args, **kwargs) -> None:
        old_path = self.path
        self.path = (self.parent.path if self.parent_id else "") + f"{self.code}/"
        with transaction.atomic():
            super().save(*args, **kwargs)
            if old_path and old_path != self.path:
                # Re-root the subtree in one statement when a branch moves or is renamed.
                Branch.objects.filter(path__startswith=old_path).exclude(pk=self.pk).update(
                    path=Concat(models.Value(self.path), Substr("path", len(old_path) + 1))
                )

    def clean(self) -> None:
        expected = self.PARENT_KIND.get(self.kind)
        if expected and (self.parent is None or self.parent.kind != expected):
            raise ValidationError(
                {"parent": _("A %(kind)s belongs under a %(parent)s.")
                 % {"kind": self.get_kind_display(), "parent": self.Kind(expected).label}}
            )
        if self.parent_id and self.pk and self.parent.path.startswith(self.path):
            raise ValidationError({"parent": _("A branch cannot be moved under itself.")})

    def subtree(self) -> models.QuerySet["Branch"]:
        return Branch.objects.filter(path__startswith=self.path)


class User(AbstractUser):
    """A member of staff. One person, one account: accounts are never shared or reused."""

    full_name = models.CharField(_("full name"), max_length=100, blank=True)
    employee_no = models.CharField(
        _("employee number"), max_length=20, unique=True, null=True, blank=True,
        help_text=_("The HR system's employee number."),
    )
    branch = models.ForeignKey(
        Branch, verbose_name=_("home branch"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="staff",
    )

    class Meta(AbstractUser.Meta):
        verbose_name = _("staff member")
        verbose_name_plural = _("staff")
        indexes = [models.Index(fields=["branch", "is_active"], name="org_user_branch_active")]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    def get_full_name(self) -> str:
        return self.full_name or super().get_full_name()


class AuditEntry(models.Model):
    """One line of the append-only audit trail.

    Rows are written by org.audit (sign-ins, reveals, exports, imports) and by a PostgreSQL trigger
    on every tracked table (creates, updates, deletes, bulk ones included). The database refuses
    UPDATE and DELETE on this table (migration 0002). It names fields, never their values.
    """

    class Action(models.TextChoices):
        LOGIN = "login", _("Signed in")
        LOGIN_FAILED = "login_failed", _("Sign-in failed")
        LOCKED_OUT = "locked_out", _("Locked out")
        LOGOUT = "logout", _("Signed out")
        SESSION_EXPIRED = "session_expired", _("Session expired")
        CREATE = "create", _("Created")
        UPDATE = "update", _("Changed")
        DELETE = "delete", _("Deleted")
        REVEAL = "reveal", _("Revealed personal data")
        EXPORT = "export", _("Exported")
        IMPORT = "import", _("Imported")
        PERMISSION_CHANGE = "permission_change", _("Permission changed")
        JOB = "job", _("Ran a job")

    occurred_at = models.DateTimeField(_("when (UTC)"), default=timezone.now)
    # Plain columns, not foreign keys: an audit line must outlive whatever it points at.
    actor_id = models.BigIntegerField(_("actor id"), null=True, blank=True)
    actor_username = models.CharField(_("actor"), max_length=150, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    action = models.CharField(_("action"), max_length=24, choices=Action.choices)
    object_type = models.CharField(_("object type"), max_length=100, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    object_repr = models.CharField(_("object"), max_length=200, blank=True)
    fields = ArrayField(models.CharField(max_length=64), verbose_name=_("fields"), default=list, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit trail")
        # Newest first by id: ids follow insertion order and the keyset pages on them.
        ordering = ["-id"]
        default_permissions = ("view",)
        indexes = [
            models.Index(fields=["occurred_at"], name="org_audit_time"),
            models.Index(fields=["actor_username", "-id"], name="org_audit_actor"),
            models.Index(fields=["object_type", "object_id", "-id"], name="org_audit_object"),
            models.Index(fields=["action", "-id"], name="org_audit_action"),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.actor_username or '-'} {self.action}"

    def get_absolute_url(self) -> str:
        return reverse("org:audit-list") + f"?object_type={self.object_type}&object_id={self.object_id}"
