"""End to end in headless Chromium at a phone-sized viewport, as a candidate clicks (issue 2)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from kaowu.conftest import PHOTO_DIR, last_sms_code, make_id_number, platform_notices, screenshot
from kaowu.notifications.models import SmsCode

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Kaowu2026abc"
NEW_PASSWORD = "Kaowu2027xyz"


def _request_code(page, phone: str) -> str:
    page.get_by_role("button", name="获取短信验证码").click()
    expect(page.locator("#sms-status")).to_contain_text("验证码已发送")
    return last_sms_code(phone)


def _login(page, identifier: str, password: str) -> None:
    page.locator("#id_username").fill(identifier)
    page.locator("#id_password").fill(password)
    page.locator("#id_captcha_1").fill("PASSED")
    page.get_by_role("button", name="登录", exact=True).click()


def test_candidate_registers_uploads_photo_changes_phone_and_resets_password(phone_page):
    page = phone_page
    platform_notices()  # the agreement and registration notice a candidate reads first
    id_number = make_id_number()
    phone, new_phone = "13912340001", "13912340002"

    # Agreement → notice → form.
    page.goto("/")
    page.get_by_role("link", name="注册新账户").click()
    page.get_by_label("我已仔细阅读并同意《用户协议》").check()
    page.get_by_role("button", name="同意并继续").click()
    page.get_by_role("button", name="我已阅读，下一步").click()
    expect(page.locator("[aria-current=step]")).to_contain_text("填写信息")

    page.locator("#id_username").fill("liming2026")
    page.locator("#id_real_name").fill("李𠀀明")
    page.locator("#id_doc_number").fill(id_number)
    page.locator("#id_phone").fill(phone)
    code = _request_code(page, phone)
    page.locator("#id_sms_code").fill(code)
    page.locator("#id_email").fill("liming@example.com")
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    page.locator("#id_edu_level").select_option(label="大学本科")
    page.locator("#id_edu_degree").select_option(label="学士")
    page.locator("#id_edu_school").fill("南京大学")
    page.locator("#id_edu_major").fill("会计学")
    page.locator("#id_edu_graduated_on").fill("2012-07-01")
    page.locator("#id_security_question").fill("我的出生地是？")
    page.locator("#id_security_answer").fill("南京")
    page.locator("#id_captcha_1").fill("PASSED")
    screenshot(page, "register-form")
    page.get_by_role("button", name="提交，进入信息确认").click()

    # Second confirmation: a typo is caught, then the right values create the account.
    expect(page.locator("[aria-current=step]")).to_contain_text("确认信息")
    page.locator("#id_real_name").fill("李明")
    page.locator("#id_doc_number").fill(id_number)
    page.locator("#id_education_level").select_option(label="大学本科")
    page.locator("#id_degree").select_option(label="学士")
    page.get_by_role("button", name="确认并完成注册").click()
    expect(page.locator("#error-summary")).to_contain_text("姓名")
    page.locator("#id_real_name").fill("李𠀀明")
    page.locator("#id_doc_number").fill(id_number)
    page.get_by_role("button", name="确认并完成注册").click()
    expect(page.get_by_role("status").first).to_contain_text("注册成功")

    # Login by ID number; no photo yet, so the photo page comes first (seed 002).
    _login(page, id_number, PASSWORD)
    expect(page).to_have_url(re.compile(r"/accounts/photo/$"))
    page.locator("#id_photo").set_input_files(str(PHOTO_DIR / "bad_green_background.jpg"))
    page.get_by_role("button", name="上传并检查").click()
    expect(page.locator("#error-summary")).to_contain_text("背景")
    page.locator("#id_photo").set_input_files(str(PHOTO_DIR / "good_white.jpg"))
    page.get_by_role("button", name="上传并检查").click()
    expect(page.get_by_role("status").first).to_contain_text("照片已通过检查")
    expect(page.get_by_alt_text("当前证件照（已标准化）")).to_be_visible()
    expect(page.get_by_text("已标准化：295×413 像素")).to_be_visible()
    screenshot(page, "photo-fixed")

    # Change phone: the code goes to the new number.
    page.get_by_role("link", name="完成，返回个人中心").click()
    expect(page.get_by_role("heading", name="李𠀀明，您好")).to_be_visible()
    screenshot(page, "candidate-home")
    page.get_by_role("link", name="更换手机号").click()
    page.locator("#id_phone").fill(new_phone)
    code = _request_code(page, new_phone)
    page.locator("#id_sms_code").fill(code)
    page.get_by_role("button", name="确认更换").click()
    expect(page.get_by_role("status").first).to_contain_text("手机号已更换")

    # Log out through the collapsed phone menu.
    page.get_by_role("button", name="展开菜单").click()
    page.get_by_role("button", name="退出").click()

    # Forgot the password: recover by SMS to the new phone, see the user name, set a new password.
    # A number gets one code a minute; let that minute pass since the phone-change code.
    SmsCode.objects.update(created_at=timezone.now() - timedelta(minutes=2))
    page.goto("/accounts/login/")
    page.get_by_role("link", name="找回密码/账户").click()
    page.get_by_role("link", name=re.compile("短信验证码找回")).click()
    page.locator("#id_real_name").fill("李𠀀明")
    page.locator("#id_doc_number").fill(id_number)
    page.locator("#id_phone").fill(new_phone)
    page.get_by_role("button", name="获取短信验证码").click()
    expect(page.locator("#sms-status")).to_contain_text("如姓名、证件号码与该手机号属于同一账户，验证码已发送")
    page.locator("#id_sms_code").fill(last_sms_code(new_phone))
    page.locator("#id_captcha_1").fill("PASSED")
    page.get_by_role("button", name="下一步").click()
    expect(page.get_by_text("liming2026")).to_be_visible()
    page.locator("#id_new_password1").fill(NEW_PASSWORD)
    page.locator("#id_new_password2").fill(NEW_PASSWORD)
    page.get_by_role("button", name="保存新密码").click()
    expect(page.get_by_role("status").first).to_contain_text("密码已重置")

    _login(page, "liming2026", NEW_PASSWORD)
    expect(page.get_by_role("heading", name="李𠀀明，您好")).to_be_visible()
