"""The second factor in a real Chromium: TOTP enrolment and sign-in (the test
computes the codes), a WebAuthn passkey registered and used with Chromium's
virtual authenticator (DevTools protocol), and a signature confirmed with it.
axe-core checks every new page."""

from __future__ import annotations

import re
import time
from base64 import b32decode

import pytest
from django.contrib.auth.models import Group
from django_otp.oath import TOTP
from playwright.sync_api import expect

from accounts.models import Role, User
from tests.conftest import PASSWORD, Flow, give_credential

from .conftest import Browsing, Persona, in_thread

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def newcomer(username: str, role: str) -> User:
    """An account created by an administrator: a password, no second factor yet."""
    user = User.objects.create_user(
        username, password=PASSWORD, first_name="Nina", last_name="Nouvelle"
    )
    user.groups.add(Group.objects.get(name=role))
    return user


def password_step(persona: Persona) -> None:
    page = persona.page
    page.goto("/connexion/")
    page.get_by_label("Identifiant").fill(persona.user.username)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()


def code_from(secret: str, ahead: int = 0) -> str:
    clock = TOTP(b32decode(secret))
    clock.time = time.time() + ahead * 30
    return f"{clock.token():06d}"


def log_out(persona: Persona) -> None:
    persona.page.get_by_role("button", name="Se déconnecter").click()
    expect(persona.page.get_by_role("heading", level=1)).to_have_text("Connexion")


def virtual_authenticator(persona: Persona) -> None:
    cdp = persona.context.new_cdp_session(persona.page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )


def test_totp_enrolment_then_sign_in(ui: Browsing, transactional_db):
    user = newcomer("nouvelle", Role.SECRETARIAT)
    persona = ui.as_(user, login=False)
    page = persona.page

    password_step(persona)
    expect(page.get_by_role("heading", level=1)).to_have_text("Configurer votre second facteur")
    persona.axe("inscription du second facteur")
    qr = page.get_by_role("img", name="Code QR à scanner avec l'application d'authentification")
    expect(qr).to_be_visible()
    secret = page.locator("code.secret").inner_text().strip()
    page.get_by_label(re.compile("^Code à six chiffres")).fill(
        "000000" if code_from(secret) != "000000" else "111111"
    )
    page.get_by_role("button", name="Confirmer l'application").click()
    expect(page.get_by_role("alert")).to_contain_text("L'application n'a pas été configurée")
    time.sleep(1.1)  # django-otp throttles for 1 s after a wrong code
    page.get_by_label(re.compile("^Code à six chiffres")).fill(code_from(secret))
    page.get_by_role("button", name="Confirmer l'application").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Vos codes de secours")
    expect(page.locator("ul.recovery-codes li")).to_have_count(10)
    persona.axe("codes de secours")
    page.get_by_role("link", name="Continuer vers Huis clos").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Bonjour Nina Nouvelle")

    log_out(persona)
    password_step(persona)
    expect(page.get_by_role("heading", level=1)).to_have_text("Second facteur")
    persona.axe("vérification du second facteur")
    # The enrolment used this 30-s step's code: the app's next one is accepted.
    page.get_by_label(re.compile(r"^Code\s*:?$")).fill(code_from(secret, ahead=1))
    page.get_by_role("button", name="Vérifier").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Bonjour Nina Nouvelle")


def test_passkey_registration_sign_in_and_signature(ui: Browsing, people):
    keyholder = newcomer("cle", Role.PRESIDENT)
    in_thread(lambda: give_credential(keyholder))
    dr = in_thread(Flow({**people, "president": keyholder}).awaiting_signatures)
    persona = ui.as_(keyholder, login=False)
    page = persona.page
    virtual_authenticator(persona)
    # Each ceremony is two server round trips and a navigation: on two busy
    # cores (the whole suite in parallel) that can take longer than 5 s.
    ceremony = 20_000

    password_step(persona)
    expect(page.get_by_role("heading", level=1)).to_have_text("Configurer votre second facteur")
    # The button's handler comes with a module script, run once the page is
    # parsed: a click before it is lost (seen once under the full suite).
    page.wait_for_load_state("load")
    page.get_by_role("button", name="Enregistrer une clé de sécurité ou clé d'accès").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Vos codes de secours", timeout=ceremony
    )
    page.get_by_role("link", name="Continuer vers Huis clos").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Bonjour Nina Nouvelle")

    log_out(persona)
    password_step(persona)
    expect(page.get_by_role("heading", level=1)).to_have_text("Second facteur")
    persona.axe("vérification par clé")
    page.get_by_role("button", name="Utiliser ma clé de sécurité ou clé d'accès").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Bonjour Nina Nouvelle", timeout=ceremony
    )

    # The signature: a fresh assertion of the key, no code typed.
    page.goto(f"/demandes/{dr.pk}/signer/")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Signer la réponse {dr.reference}")
    persona.axe("signature par clé")
    page.get_by_role("button", name="Signer avec ma clé de sécurité ou clé d'accès").click()
    persona.expect_message(f"Réponse {dr.reference} signée (Le Président).")
