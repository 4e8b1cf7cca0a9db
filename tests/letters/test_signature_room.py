"""The room reserved for each signature's CMS object: sized to the signer's
certificates (every reader parses it digit by digit), with the fixed size
as a fallback when the estimate is short."""

from __future__ import annotations

import re

from letters import signing, stamps
from letters.credentials import signing_passphrase
from letters.models import SigningCredential
from letters.rendering import render_letter

from .test_stamps import _field_appearances


def _contents(pdf: bytes) -> list[bytes]:
    return re.findall(rb"/Contents\s*<([0-9a-fA-F]+)>", pdf)


def _sign_once(flow, signers) -> tuple[bytes, bytes]:
    dr = flow.awaiting_signatures()
    prepared = signing.prepare_for_signature(render_letter(dr.reply))
    credential = bytes(SigningCredential.objects.get(user=signers["dg"]).pkcs12)
    return prepared, credential


def test_the_room_fits_the_signature_with_little_to_spare(flow, signers, pki):
    prepared, credential = _sign_once(flow, signers)
    signed = signing.sign(
        prepared,
        field=signing.FIELD_DIRECTOR,
        credential_p12=credential,
        passphrase=signing_passphrase(),
        certify=True,
    )
    [contents] = _contents(signed)
    used = len(contents.rstrip(b"0"))
    assert used < len(contents) < used + 2 * 1024
    assert len(contents) < signing.BYTES_RESERVED
    report = signing.validate(signed, pki.roots)
    assert report.ok, report.problems()


def test_a_short_estimate_falls_back_to_the_fixed_room(flow, signers, pki, monkeypatch):
    prepared, credential = _sign_once(flow, signers)
    monkeypatch.setattr(signing, "CMS_OVERHEAD_BYTES", -1500)
    signed = signing.sign(
        prepared,
        field=signing.FIELD_DIRECTOR,
        credential_p12=credential,
        passphrase=signing_passphrase(),
        certify=True,
        appearance=stamps.Stamp(title="Signé par", name="Marie Lambert", lines=("le 1er",)),
    )
    [contents] = _contents(signed)
    assert len(contents) == signing.BYTES_RESERVED
    report = signing.validate(signed, pki.roots)
    assert report.ok, report.problems()
    # The retry drew the stamp again, in the file it signed.
    assert "Marie Lambert" in " ".join(
        line for lines in _field_appearances(signed).values() for line in lines
    )
