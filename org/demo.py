"""The demo organisation: a branch tree and one account per role (only seed_demo calls this)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction

from .models import Branch, User
from .roles import Role

BRANCHES = [
    # code, name, kind, parent code
    ("HO", "总行", Branch.Kind.HEAD_OFFICE, None),
    ("BJ", "北京分行", Branch.Kind.BRANCH, "HO"),
    ("BJ01", "海淀支行", Branch.Kind.SUB_BRANCH, "BJ"),
    ("BJ02", "朝阳支行", Branch.Kind.SUB_BRANCH, "BJ"),
    ("BJ0101", "中关村网点", Branch.Kind.OUTLET, "BJ01"),
    ("SH", "上海分行", Branch.Kind.BRANCH, "HO"),
    ("SH01", "浦东支行", Branch.Kind.SUB_BRANCH, "SH"),
]

USERS = [
    # username, full name, employee no, branch code, roles, staff, superuser
    ("admin", "系统管理员", "E0001", "HO", [Role.ADMINISTRATOR], True, True),
    ("rm1", "王芳", "E1001", "BJ01", [Role.RELATIONSHIP_MANAGER], False, False),
    ("rm2", "李强", "E1002", "BJ02", [Role.RELATIONSHIP_MANAGER], False, False),
    ("rm3", "赵敏", "E1003", "BJ01", [Role.RELATIONSHIP_MANAGER], False, False),
    ("manager1", "张伟", "E2001", "BJ01", [Role.BRANCH_MANAGER], False, False),
    ("risk1", "刘洋", "E3001", "HO", [Role.RISK_OFFICER], False, False),
    ("service1", "陈静", "E4001", "BJ01", [Role.SERVICE_AGENT], False, False),
    ("marketing1", "杨帆", "E5001", "HO", [Role.MARKETING], False, False),
    ("ops1", "黄磊", "E6001", "BJ", [Role.OPERATIONS], False, False),
    ("auditor1", "周婷", "E7001", "HO", [Role.COMPLIANCE_AUDITOR], False, False),
]


@transaction.atomic
def seed_organisation() -> dict[str, User]:
    """Create or refresh the demo branch tree and accounts; running it again changes nothing."""
    branches: dict[str, Branch] = {}
    for code, name, kind, parent in BRANCHES:
        branch = Branch.objects.filter(code=code).first() or Branch(code=code)
        parent_branch = branches.get(parent)
        wanted = (name, kind, parent_branch.pk if parent_branch else None)
        if branch.pk is None or (branch.name, branch.kind, branch.parent_id) != wanted:
            branch.name, branch.kind, branch.parent = name, kind, parent_branch
            branch.save()
        branches[code] = branch
    users: dict[str, User] = {}
    for username, full_name, employee_no, branch_code, roles, staff, superuser in USERS:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User(username=username, full_name=full_name, employee_no=employee_no,
                        branch=branches[branch_code], is_staff=staff, is_superuser=superuser)
            user.set_password(settings.DEMO_PASSWORD)
            user.save()
        user.groups.add(*Group.objects.filter(name__in=[str(role) for role in roles]))
        users[username] = user
    return users
