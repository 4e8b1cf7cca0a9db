"""WebAuthn (security keys, passkeys) through django-otp-webauthn.

The relying party id, name and origins come from the settings
(HUISCLOS_WEBAUTHN_*). With the development default (DEBUG: relying party
"localhost") and no origin configured, the origin of a request to localhost
is accepted, whatever its port, so that `runserver` on
http://localhost:8000 and the live test server work without configuration.
WebAuthn does not work on http://127.0.0.1 (an IP address is no relying
party id).
"""

from __future__ import annotations

from django_otp_webauthn.helpers import WebAuthnHelper as BaseWebAuthnHelper


class WebAuthnHelper(BaseWebAuthnHelper):  # type: ignore[misc]
    def get_allowed_origins(self) -> list[str]:
        origins = list(super().get_allowed_origins())
        if not origins and self.get_relying_party_domain() == "localhost":
            # The development default: a browser only makes credentials for
            # the "localhost" relying party on a localhost origin, any port.
            host = self.request.get_host()
            if host.rsplit(":", 1)[0] == "localhost":
                origins = [f"{self.request.scheme}://{host}"]
        return origins
