"""The sign-in, sign-up and Docs pages in Vietnamese: their text, the refusals they show (the
console's own and those shared/ words in English) and the setup wizard's steps."""

from __future__ import annotations

from shared.accounts import create_user
from shared.catalog import add_model_route, add_provider
from shared.models import User
from shared.settings import Settings
from tests.console.conftest import Console, text

VI = {"Accept-Language": "vi-VN,vi;q=0.9,en;q=0.5"}
PASSWORD = "correct horse battery"


def test_the_sign_in_page_and_a_failed_sign_in_in_vietnamese(web: Console) -> None:
    create_user("lan@example.com", PASSWORD)
    page = text(web.get("/login", headers=VI))
    assert "<h1>Đăng nhập</h1>" in page and "Quên mật khẩu?" in page and "Mật khẩu" in page
    assert "Forgot password?" not in page
    wrong = web.post("/login", {"email": "lan@example.com", "password": "not the one"}, headers=VI)
    assert wrong.status_code == 401 and "Sai email hoặc mật khẩu." in text(wrong)
    assert "Wrong email or password" not in text(wrong)
    empty = text(web.post("/login", {"email": "", "password": ""}, headers=VI))
    assert "Trường này là bắt buộc." in empty and "This field is required" not in empty


def test_sign_up_refusals_from_shared_come_out_in_vietnamese(web: Console, customer: User) -> None:
    closed = web.get("/signup?invite=not-a-token", headers=VI)
    assert closed.status_code == 403
    assert "Chỉ có thể đăng ký qua lời mời." in text(closed) and "by invitation" not in text(closed)
    taken = web.post(
        "/signup", {"email": customer.email, "password": PASSWORD, "confirm": PASSWORD}, headers=VI
    )
    assert f"{customer.email} đã được đăng ký" in text(taken)
    english = web.post("/signup", {"email": customer.email, "password": PASSWORD, "confirm": PASSWORD})
    assert f"{customer.email} is already registered" in text(english)


def test_the_docs_setup_wizard_steps_in_vietnamese(web: Console, settings: Settings, customer: User) -> None:
    add_provider("up", "http://127.0.0.1:9/v1", "k", settings.secret_key)
    add_model_route("acme/chat", "up", 1_000_000_000, 2_000_000_000)
    web.login_as(customer)
    page = text(web.get("/docs?tool=cursor&model=acme/chat", headers=VI))
    assert "<h1>Hướng dẫn nhanh</h1>" in page and "Agent lập trình" in page
    assert "Bật “Override OpenAI Base URL” và nhập URL gốc của cổng:" in page
    assert "Thêm một mô hình tùy chỉnh với tên này và bật nó lên:" in page and "Tên mô hình" in page
    base_url = f'<code id="tool-cursor-base-url">{settings.public_base_url}/v1</code>'
    assert base_url in page  # code samples stay as they are
    assert "Gửi `Authorization: Bearer &lt;key&gt;`" in page  # the error table, escaped like any text
    assert "Add a custom model" not in page and "Quick start" not in page
    refused = text(
        web.post("/docs/test-key", {"tool": "cursor", "model": "acme/chat", "key": ""}, headers=VI)
    )
    assert "Hãy dán khóa trước." in refused and "Paste a key first" not in refused
