"""seed_demo gives each demo RM a day on the workbench: contacts and tasks, once."""

import pytest
from django.core.management import call_command

from interactions.models import Interaction, Task

pytestmark = pytest.mark.django_db


def test_seed_demo_gives_rms_tasks_and_contacts_once(roles, tiers):
    call_command("seed_demo", customers=40, stdout=open("/dev/null", "w"))  # noqa: SIM115
    tasks = Task.objects.filter(assignee__username="rm1")
    assert tasks.count() == 5
    assert tasks.filter(due_at__lt=tasks.order_by("due_at").last().due_at).exists()
    assert Interaction.objects.filter(actor__username="rm1").count() == 2
    call_command("seed_demo", customers=40, stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert Task.objects.filter(assignee__username="rm1").count() == 5
