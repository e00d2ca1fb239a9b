"""The status page (APP-6) and the full record (APP-9) say where an application stands and what comes next."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from kaowu.applications import services
from kaowu.catalog import demo

from .conftest import submitted

pytestmark = pytest.mark.django_db


def page(client, name: str, application) -> str:
    response = client.get(reverse(f"applications:{name}", args=[application.pk]))
    assert response.status_code == 200
    return re.sub(r"\s+", " ", response.content.decode())


def test_status_page_shows_each_level_its_result_and_the_next_action(client, world, cand_a):
    application = submitted(world, demo.AUCTIONEER_EXAM, cand_a)
    client.force_login(cand_a)
    waiting = page(client, "detail", application)
    assert "待审核（省级审核）" in waiting and "江苏省拍卖行业协会" in waiting and "线上审核" in waiting
    assert "撤回修改" in waiting  # nobody has approved yet

    services.review_approve(actor=world.staff("js_caa_province"), application=application)
    services.review_return(actor=world.staff("caa_nation"), application=application, reason="工作年限证明不清晰")
    returned = page(client, "detail", application)
    assert "已驳回" in returned
    assert "驳回原因：工作年限证明不清晰" in returned
    assert "修改报名信息" in returned
    assert "省级审核" in returned and "通过" in returned and "全国审核" in returned and "驳回修改" in returned
    assert "报名" in returned and "审核" in returned and "缴费" in returned  # the batch's dates


def test_on_site_review_says_where_to_go_and_until_when(client, world, cand_a):
    application = submitted(world, demo.RECRUITMENT_EXAM, cand_a)
    point = application.site.review_point
    client.force_login(cand_a)
    text = page(client, "detail", application)
    assert "待现场审核" in text
    assert point.name in text and point.address in text and point.phone in text
    assert "截止时间" in text
    assert "审核通过的，请当场缴纳考试费" in text


def test_awaiting_payment_shows_the_pay_window(client, world, cand_a):
    application = submitted(world, demo.CCAA_EXAM, cand_a)
    client.force_login(cand_a)
    text = page(client, "detail", application)
    assert "报名状态为待缴费" in text and "缴费时间" in text
    assert "网上缴费" in text
    # Seed 004: before ordering, the candidate may still take the application back to change it.
    assert "撤回修改" in text


def test_record_holds_the_whole_registration_and_its_history(client, world, cand_a):
    application = submitted(world, demo.CCAA_EXAM, cand_a)
    client.force_login(cand_a)
    text = page(client, "record", application)
    assert application.number in text
    assert cand_a.real_name in text
    assert cand_a.candidate_profile.doc_number_masked in text
    for line in application.subjects.select_related("subject"):
        assert line.subject.name in text
    assert application.site.name in text
    assert "个人" in text  # the invoice kind chosen by ``fill``
    assert "状态变更记录" in text and "待缴费" in text
    assert "打印" in text
