"""The visible signatures, drawn by letters.stamps in the signature fields:
what each says in the signed letter, that it stays in its box, and that its
fonts are complete subsets of the letter's fonts."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from django.utils import timezone
from fontTools import ttLib  # type: ignore[import-untyped]
from pypdf import PdfReader

from letters import rendering, signing, stamps
from letters.dates import french_date
from requests_app.models import Signature
from tests.words import words_problems

from .conftest import normalised, pdf_text, sign_in_order


def _to_unicode(font) -> dict[int, str]:
    data = font["/ToUnicode"].get_object().get_data().decode("ascii")
    return {
        int(code, 16): bytes.fromhex(text).decode("utf-16-be")
        for code, text in re.findall(r"<([0-9a-f]{4})> <([0-9a-f]+)>", data)
    }


def _shown_text(xobject) -> list[str]:
    """The lines a form XObject draws, decoded through its fonts' ToUnicode
    maps (each text matrix starts a line), following nested XObjects."""
    resources = xobject.get("/Resources")
    resources = resources.get_object() if resources else {}
    fonts = {
        name: _to_unicode(ref.get_object()) for name, ref in (resources.get("/Font") or {}).items()
    }
    xobjects = resources.get("/XObject") or {}
    lines: list[str] = []
    current: dict[int, str] = {}
    operations = re.finditer(
        rb"(/\w+) [\d.]+ Tf|<([0-9a-fA-F]*)> Tj|( Tm)\b|(/\w+) Do", xobject.get_data()
    )
    for font, shown, matrix, inner in (m.groups() for m in operations):
        if font:
            current = fonts[font.decode()]
        elif matrix:
            lines.append("")
        elif shown is not None:
            data = bytes.fromhex(shown.decode())
            lines[-1] += "".join(
                current[int.from_bytes(data[i : i + 2], "big")] for i in range(0, len(data), 2)
            )
        else:
            lines += _shown_text(xobjects[inner.decode()].get_object())
    return lines


def _field_appearances(pdf: bytes) -> dict[str, list[str]]:
    reader = PdfReader(io.BytesIO(pdf))
    found = {}
    for annot in reader.pages[-1].get("/Annots") or []:
        annot = annot.get_object()
        if annot.get("/FT") == "/Sig":
            found[str(annot["/T"])] = _shown_text(annot["/AP"]["/N"].get_object())
    return found


def test_the_signed_letter_shows_who_signed_and_when_in_french(flow, signers):
    dr = flow.awaiting_signatures()
    document = sign_in_order(dr, signers["president"], signers["dg"])
    shown = _field_appearances(document.read())

    for field, user in (
        (signing.FIELD_DIRECTOR, signers["dg"]),
        (signing.FIELD_PRESIDENT, signers["president"]),
    ):
        signed_at = timezone.localtime(
            Signature.objects.get(reply=dr.reply, signer=user).signed_at
        )
        lines = shown[field]
        assert lines == [
            "SIGNÉ ÉLECTRONIQUEMENT PAR",
            user.get_full_name(),
            f"le {french_date(signed_at.date())} à {signed_at:%H:%M}",
            f"Signature PAdES · réf. {dr.reference}",
        ]
        assert words_problems(" ".join(lines)) == []


def test_a_long_name_is_wrapped_then_cut_and_unknown_characters_shown_as_such():
    name = "Marie-Christine de la Tour d'Auvergne-Lauraguais Ḱ 🎉 " * 4 + "\x00\u202e"
    stamp = rendering.signature_stamp(
        signer_name=name,
        capacity="director_general",
        acting=True,
        signed_at=datetime(2026, 6, 30, 23, 30, tzinfo=UTC),
        reference="SP-2026-0042",
    )
    drawing = stamps.draw(stamp)
    # Six lines: the title, two of the name (cut), acting, date, note.
    assert sum(1 for op in drawing.operators if isinstance(op, str) and op.endswith(" Tm")) == 6
    text = pdf_text(rendering.render_stamp(**_kwargs(name)))
    lines = [line.strip() for line in text.splitlines()]
    assert lines[1].startswith("Marie-Christine de la Tour")
    assert lines[2].endswith("…")
    assert "Ḱ" in text  # from the fallback font
    assert "?" in text  # no font has the emoji
    assert "\x00" not in text
    assert "\u202e" not in text
    assert "Directeur général f.f." in text
    assert "le 1er juillet 2026 à 01:30" in normalised(text)


def _kwargs(name: str) -> dict[str, Any]:
    return {
        "signer_name": name,
        "capacity": "director_general",
        "acting": True,
        "signed_at": datetime(2026, 6, 30, 23, 30, tzinfo=UTC),
        "reference": "SP-2026-0042",
    }


@pytest.mark.parametrize("name", ["Anne Leclercq", "W" * 120, "Éloïse Ñúñez-Œuvrard"])
def test_every_line_stays_inside_the_frame(name):
    drawing = stamps.draw(rendering.signature_stamp(**_kwargs(name)))
    left = stamps.MARGIN + stamps.BORDER + stamps.PADDING_X
    right = drawing.width - left
    spacing = 0.0
    lines: list[list[float]] = []
    for op in drawing.operators:
        if isinstance(op, str) and op.endswith(" Tc"):
            spacing = float(op.split()[0])
        elif isinstance(op, str) and op.endswith(" Tm"):
            x, baseline = (float(v) for v in op.split()[4:6])
            lines.append([x, baseline, 0.0])
        elif isinstance(op, stamps._Show):
            font = drawing.used.fonts[
                next(k for k, v in drawing.used.names.items() if v == op.font)
            ]
            advances = sum(font.advance(g) for g in op.glyphs) / font.units_per_em * op.size
            lines[-1][2] += advances + spacing * len(op.glyphs)
    assert len(lines) >= 4
    for x, baseline, width in lines:
        assert x == pytest.approx(left, abs=0.01)
        assert x + width <= right + 0.01
        assert stamps.MARGIN + 2 < baseline < drawing.height - stamps.MARGIN - 5


def test_the_embedded_fonts_are_complete_truetype_subsets():
    pdf = rendering.render_stamp(**_kwargs("Éloïse Ñúñez-Œuvrard"))
    reader = PdfReader(io.BytesIO(pdf))
    resources: Any = reader.pages[0]["/Resources"]
    fonts = resources["/Font"]
    assert len(fonts) == 2  # regular and bold
    for ref in fonts.values():
        font = ref.get_object()
        assert font["/Subtype"] == "/Type0"
        assert font["/Encoding"] == "/Identity-H"
        cid_font = font["/DescendantFonts"][0].get_object()
        assert cid_font["/CIDToGIDMap"] == "/Identity"
        assert re.fullmatch(
            r"/[A-Z]{6}\+LiberationSans(-Bold)?|/[A-Z]{6}\+DejaVuSans(-Bold)?",
            cid_font["/BaseFont"],
        )
        program = cid_font["/FontDescriptor"]["/FontFile2"].get_object().get_data()
        tt = ttLib.TTFont(io.BytesIO(program))
        order = tt.getGlyphOrder()
        units = tt["head"].unitsPerEm
        start, widths = cid_font["/W"]
        assert start == 0
        assert len(widths) == len(order)
        for gid, glyph_name in enumerate(order):
            assert float(widths[gid]) == pytest.approx(
                tt["hmtx"][glyph_name][0] * 1000 / units, abs=0.001
            )
            glyph = tt["glyf"][glyph_name]
            if glyph.isComposite():
                assert all(c.glyphName in order for c in glyph.components)
        # Every code drawn is a glyph of the subset, and maps back to text.
        used = _to_unicode(font)
        assert used
        assert max(used) < len(order)
