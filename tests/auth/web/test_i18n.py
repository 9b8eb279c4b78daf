"""The citizen pages' words: every message in both languages, and access-log entries named for people."""

from __future__ import annotations

from auth.web.i18n import EN, MESSAGES, ZH, Translator


def test_every_message_exists_in_both_languages() -> None:
    assert set(MESSAGES[ZH]) == set(MESSAGES[EN])


def test_access_log_entries_that_are_not_plain_sections_have_names() -> None:
    zh, en = Translator(ZH), Translator(EN)
    assert en.scope("virtual_card.transit") == "Virtual card shown (transit)"
    assert zh.scope("virtual_card.clinic") == "出示虚拟卡（就医）"
    assert en.scope("export.library") == "Data export: Library"
    assert zh.scope("export.housing_fund") == "数据导出：住房公积金"
    assert en.scope("transit") == "Transit" and en.scope("unknown.thing") == "unknown.thing"
