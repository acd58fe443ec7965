"""Log in, log out, change password, and the throttle on repeated failed logins (django-axes),
on the site's own login page and on the admin's."""

from __future__ import annotations

import pytest
from django.contrib.auth import SESSION_KEY
from django.urls import reverse

from tests.crm.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "pass-word-123"  # UserFactory's


@pytest.fixture
def throttled(settings):
    # tests/conftest.py switches the throttle off for every other test.
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 3
    return settings


def test_login_page_renders_and_logs_in(client):
    # given a user
    UserFactory(username="mette")

    # when they open the login page and post their credentials
    page = client.get(reverse("login"))
    response = client.post(reverse("login"), {"username": "mette", "password": PASSWORD})

    # then they are signed in and sent home
    assert page.status_code == 200
    assert 'name="password"' in page.content.decode()
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert SESSION_KEY in client.session


def test_wrong_password_shows_an_error_and_does_not_log_in(client):
    UserFactory(username="mette")
    response = client.post(reverse("login"), {"username": "mette", "password": "nope"})
    assert response.status_code == 200
    assert "Please try again" in response.content.decode()
    assert SESSION_KEY not in client.session


def test_logout_by_post_ends_the_session(client):
    # given a signed-in user
    client.force_login(UserFactory())

    # when they log out
    response = client.post(reverse("logout"))

    # then the session is gone and they land on the login page
    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert SESSION_KEY not in client.session
    assert client.get(reverse("home")).status_code == 302


def test_password_change_replaces_the_password(client):
    # given a signed-in user
    user = UserFactory(username="tomasz")
    client.force_login(user)

    # when they change their password
    assert client.get(reverse("password_change")).status_code == 200
    response = client.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "Nowe-haslo-2026!",
            "new_password2": "Nowe-haslo-2026!",
        },
    )

    # then they see the confirmation, and only the new password works from now on
    assert response.status_code == 302
    assert response["Location"] == reverse("password_change_done")
    assert "Your password was changed" in client.get(reverse("password_change_done")).text
    client.logout()
    assert not client.login(username="tomasz", password=PASSWORD)
    assert client.login(username="tomasz", password="Nowe-haslo-2026!")


def test_password_change_needs_the_old_password(client):
    user = UserFactory()
    client.force_login(user)
    response = client.post(
        reverse("password_change"),
        {"old_password": "wrong", "new_password1": "Nowe-haslo-2026!", "new_password2": "x"},
    )
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_password_change_requires_login(client):
    response = client.get(reverse("password_change"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_repeated_failed_logins_are_locked_out_with_a_clear_page(client, throttled):
    # given a user
    UserFactory(username="mette")

    # when someone guesses wrong as often as the limit allows
    for _ in range(3):
        client.post(reverse("login"), {"username": "mette", "password": "guess"})

    # then even the right password is refused for now, with a page that says why
    response = client.post(reverse("login"), {"username": "mette", "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many failed log-in attempts" in response.content.decode()
    assert SESSION_KEY not in client.session


def test_a_lockout_does_not_block_other_users(client, throttled):
    UserFactory(username="mette")
    UserFactory(username="anna")
    for _ in range(3):
        client.post(reverse("login"), {"username": "mette", "password": "guess"})

    response = client.post(reverse("login"), {"username": "anna", "password": PASSWORD})

    assert response.status_code == 302
    assert SESSION_KEY in client.session


def test_failures_below_the_limit_do_not_lock_out(client, throttled):
    UserFactory(username="mette")
    for _ in range(2):
        client.post(reverse("login"), {"username": "mette", "password": "guess"})

    response = client.post(reverse("login"), {"username": "mette", "password": PASSWORD})

    assert response.status_code == 302


def test_the_admin_login_is_throttled_too(client, throttled):
    # given a staff user
    UserFactory(username="boss", is_staff=True)
    admin_login = reverse("admin:login")

    # when someone guesses wrong on the admin login as often as the limit allows
    for _ in range(3):
        client.post(admin_login, {"username": "boss", "password": "guess"})

    # then the admin login refuses the right password too, and says why
    response = client.post(admin_login, {"username": "boss", "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many failed log-in attempts" in response.content.decode()
    assert SESSION_KEY not in client.session
