"""The Chinese catalogue: every message translated, and words that mean two things told apart by context."""

from pathlib import Path

import polib
import pytest
from django.utils import translation

from opportunities.models import LeadAssignment, Stage
from org.models import Branch

CATALOGUE = Path(__file__).resolve().parents[2] / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def test_every_message_has_a_chinese_translation_and_none_is_a_guess():
    catalogue = polib.pofile(str(CATALOGUE))
    assert [entry.msgid for entry in catalogue.untranslated_entries()] == []
    assert [entry.msgid for entry in catalogue.fuzzy_entries()] == []


@pytest.mark.parametrize(("model", "field", "chinese"), [
    (Branch, "code", "机构号"),  # the bank's branch code
    (Stage, "code", "阶段代码"),  # a stage's name for rules and reports, not a branch code
    (LeadAssignment, "from_user", "原被分配人"),
    (LeadAssignment, "to_user", "新被分配人"),  # a hand-over, not a message's recipient (收件人)
])
def test_labels_that_share_an_english_word_read_right_in_chinese(model, field, chinese):
    with translation.override("zh-hans"):
        assert str(model._meta.get_field(field).verbose_name) == chinese
