"""The visible appearance of a PAdES signature, drawn as PDF operators.

A stamp is a few lines of text in a framed box (62 x 24 mm, the rectangle
the letter reserves for each signature). Rendering it with WeasyPrint took
a forked child, an HTML layout and a font subset per stamp (about 90 ms);
drawing it takes about a millisecond: the text is laid out here (left
aligned, wrapped by measured width, cut with an ellipsis when too long) and
written with the letter's own fonts, found through fontconfig like
WeasyPrint finds them ("Liberation Sans", else "DejaVu Sans").

The fonts are embedded (PDF/A forbids anything else) as subsets made here:
the glyphs the stamp uses, copied byte for byte from the font file, under
new glyph ids, with the tables a PDF renderer reads (TrueType outlines
only, which both fonts are). Each font has a ToUnicode map, so the text
can be extracted and searched.

The work is bounded by construction: each text is cut to a few hundred
characters and drawn on one line (two for the signer's name), and a
signature's stamp has five texts at most. This is why the stamp does not go
through rendering.run_limited, whose time and memory limits guard
WeasyPrint's layout of a whole letter (T-PDF-3).

This module has no Django dependency: rendering.signature_stamp writes the
text, in the active language.
"""

from __future__ import annotations

import hashlib
import io
import math
import shutil
import struct
import subprocess
import threading
import unicodedata
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from fontTools import ttLib  # type: ignore[import-untyped]
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.writer import BasePdfFileWriter, PageObject, PdfFileWriter

MM = 72 / 25.4
# The signature rectangle of the letter (static/pdf/letter.css, .sig-box).
WIDTH = 62 * MM
HEIGHT = 24 * MM

# What the stamp may hold, whatever the input: the bound on the work.
MAX_INPUT_CHARACTERS = 300
ELLIPSIS = "…"
REPLACEMENT = "?"

# fontconfig patterns, as the letter's style sheet names its fonts.
FONT_PATTERNS = {
    False: "Liberation Sans,DejaVu Sans,sans-serif",
    True: "Liberation Sans,DejaVu Sans,sans-serif:weight=bold",
}
# For characters the first font lacks (Liberation Sans covers Latin, Greek
# and Cyrillic; DejaVu Sans more).
FALLBACK_PATTERNS = {False: "DejaVu Sans", True: "DejaVu Sans:weight=bold"}


class StampError(Exception):
    """The stamp cannot be drawn (no usable font)."""


# ---------------------------------------------------------------------------
# What the stamp says, and how each kind of line looks


@dataclass(frozen=True)
class Stamp:
    """The text of one signature's stamp, already translated."""

    title: str  # "Electronically signed by", printed in capitals
    name: str  # the signer, bold, on up to two lines
    lines: tuple[str, ...]  # the capacity when acting, the date and time
    note: str = ""  # the signature's kind and the letter's reference


@dataclass(frozen=True)
class _Style:
    size: float  # font size, pt
    leading: float  # line height, pt
    bold: bool
    colour: tuple[float, float, float]
    spacing: float = 0.0  # letter spacing, pt
    max_lines: int = 1
    space_before: float = 0.0
    space_after: float = 0.0


def _rgb(hex_colour: str) -> tuple[float, float, float]:
    value = int(hex_colour.lstrip("#"), 16)
    return ((value >> 16) / 255, ((value >> 8) & 0xFF) / 255, (value & 0xFF) / 255)


INK = _rgb("#1d3c6e")
GREY = _rgb("#5a6472")
PAPER = _rgb("#f3f6fb")
TITLE = _Style(6, 7.5, False, GREY, spacing=0.6)
NAME = _Style(8.5, 9.775, True, INK, max_lines=2, space_before=0.6 * MM, space_after=0.4 * MM)
TEXT = _Style(7, 8.75, False, INK)
NOTE = _Style(6, 7.5, False, GREY, space_before=0.4 * MM)

MARGIN = 0.4 * MM  # around the frame
BORDER = 0.7  # pt
RADIUS = 1.5 * MM
PADDING_X = 3 * MM


# ---------------------------------------------------------------------------
# Fonts


def _be_array(typecode: str, data: bytes) -> array[int]:
    values = array(typecode, data)
    if values.itemsize > 1 and array("H", b"\x00\x01")[0] != 1:  # little-endian host
        values.byteswap()
    return values


def _checksum(data: bytes) -> int:
    padded = data + b"\0" * (-len(data) % 4)
    return sum(_be_array("I", padded)) & 0xFFFFFFFF


class TrueTypeFont:
    """A TrueType font file, read once: metrics, character map, outlines."""

    # Tables copied whole into every subset; the others are rebuilt or left
    # out (those indexed by glyph id, like hdmx or kern, would be wrong).
    COPIED = ("OS/2", "cvt ", "fpgm", "prep", "gasp")

    def __init__(self, path: Path) -> None:
        data = path.read_bytes()
        font = ttLib.TTFont(io.BytesIO(data), lazy=True)
        if "glyf" not in font or "loca" not in font:
            raise StampError(f"{path.name} has no TrueType outlines.")
        self.path = path
        self.tables = {tag: bytes(font.reader[tag]) for tag in font.reader.tables}
        head, hhea = self.tables["head"], self.tables["hhea"]
        self.units_per_em: int = struct.unpack(">H", head[18:20])[0]
        self.bbox: tuple[int, int, int, int] = struct.unpack(">hhhh", head[36:44])
        self.ascender: int
        self.descender: int
        self.ascender, self.descender = struct.unpack(">hh", hhea[4:8])
        self.metrics_count: int = struct.unpack(">H", hhea[34:36])[0]
        self.glyph_count: int = struct.unpack(">H", self.tables["maxp"][4:6])[0]
        long_offsets = struct.unpack(">h", head[50:52])[0] == 1
        loca = _be_array("I" if long_offsets else "H", self.tables["loca"])
        self.loca = list(loca) if long_offsets else [2 * offset for offset in loca]
        hmtx = self.tables["hmtx"]
        metrics = _be_array("H", hmtx[: 4 * self.metrics_count])
        self.advances: list[int] = list(metrics[0::2])
        self._hmtx = hmtx
        self.cmap = {code: font.getGlyphID(name) for code, name in font.getBestCmap().items()}
        os2 = self.tables.get("OS/2", b"")
        version = struct.unpack(">H", os2[:2])[0] if len(os2) >= 2 else 0
        self.cap_height = (
            struct.unpack(">h", os2[88:90])[0]
            if version >= 2 and len(os2) >= 90
            else round(self.ascender * 0.7)
        )
        post = self.tables.get("post", b"")
        self.italic_angle = struct.unpack(">i", post[4:8])[0] / 65536 if len(post) >= 8 else 0
        self.postscript_name = (
            str(font["name"].getDebugName(6) or path.stem).replace(" ", "")
            if "name" in font
            else path.stem
        )

    def advance(self, glyph: int) -> int:
        return self.advances[min(glyph, self.metrics_count - 1)]

    def _side_bearing(self, glyph: int) -> int:
        if glyph < self.metrics_count:
            offset = 4 * glyph + 2
        else:
            offset = 4 * self.metrics_count + 2 * (glyph - self.metrics_count)
        value: int = struct.unpack(">h", self._hmtx[offset : offset + 2])[0]
        return value

    def _glyph(self, glyph: int) -> bytes:
        return self.tables["glyf"][self.loca[glyph] : self.loca[glyph + 1]]

    @staticmethod
    def _components(data: bytes) -> Iterable[tuple[int, int]]:
        """(offset of the glyph id, glyph id) of each part of a composite glyph."""
        if len(data) < 10 or struct.unpack(">h", data[:2])[0] >= 0:
            return
        offset = 10
        while True:
            flags, glyph = struct.unpack(">HH", data[offset : offset + 4])
            yield offset + 2, glyph
            offset += 4 + (4 if flags & 0x0001 else 2)  # ARG_1_AND_2_ARE_WORDS
            if flags & 0x0008:  # WE_HAVE_A_SCALE
                offset += 2
            elif flags & 0x0040:  # WE_HAVE_AN_X_AND_Y_SCALE
                offset += 4
            elif flags & 0x0080:  # WE_HAVE_A_TWO_BY_TWO
                offset += 8
            if not flags & 0x0020:  # MORE_COMPONENTS
                return

    def subset(self, characters: dict[int, int]) -> tuple[bytes, list[int]]:
        """A font program holding the glyphs of `characters` (code point to
        glyph id) and the parts of composite glyphs, renumbered from 1 in
        the order of their old ids (0 stays .notdef). Returns the program
        and the old id of each new one."""
        wanted = {0, *characters.values()}
        pending = list(wanted)
        while pending:
            for _, part in self._components(self._glyph(pending.pop())):
                if part not in wanted and part < self.glyph_count:
                    wanted.add(part)
                    pending.append(part)
        order = sorted(wanted)
        new_id = {old: new for new, old in enumerate(order)}
        glyf = bytearray()
        offsets = []
        metrics = bytearray()
        for old in order:
            offsets.append(len(glyf))
            glyph = bytearray(self._glyph(old))
            for offset, part in list(self._components(bytes(glyph))):
                glyph[offset : offset + 2] = struct.pack(">H", new_id[part])
            glyf += glyph + b"\0" * (-len(glyph) % 4)
            metrics += struct.pack(">Hh", self.advance(old), self._side_bearing(old))
        offsets.append(len(glyf))
        loca = array("I", offsets)
        if array("H", b"\x00\x01")[0] != 1:
            loca.byteswap()
        count = len(order)
        head = bytearray(self.tables["head"])
        head[8:12] = b"\0\0\0\0"  # checkSumAdjustment, set below
        head[50:52] = struct.pack(">h", 1)  # long loca offsets
        hhea = bytearray(self.tables["hhea"])
        hhea[34:36] = struct.pack(">H", count)
        maxp = bytearray(self.tables["maxp"])
        maxp[4:6] = struct.pack(">H", count)
        post = bytearray(self.tables["post"][:32].ljust(32, b"\0"))
        post[0:4] = struct.pack(">I", 0x00030000)  # no glyph names
        tables = {
            "head": bytes(head),
            "hhea": bytes(hhea),
            "maxp": bytes(maxp),
            "hmtx": bytes(metrics),
            "loca": loca.tobytes(),
            "glyf": bytes(glyf),
            "post": bytes(post),
            "cmap": _cmap_table({code: new_id[glyph] for code, glyph in characters.items()}),
        }
        tables.update({tag: self.tables[tag] for tag in self.COPIED if tag in self.tables})
        if "name" in self.tables:
            tables["name"] = _short_name_table(self.tables["name"])
        return _sfnt(tables), order


def _short_name_table(data: bytes) -> bytes:
    """Names 0 to 6 only (copyright, family, style, identifier, full name,
    version, PostScript name), as HarfBuzz's subsetter keeps them: the
    license text alone weighs more than the stamp's glyphs."""
    _, count, storage = struct.unpack(">HHH", data[:6])
    records = []
    for index in range(count):
        platform, encoding, language, name_id, length, offset = struct.unpack(
            ">6H", data[6 + 12 * index : 18 + 12 * index]
        )
        if name_id <= 6 and language < 0x8000:  # no language-tag records
            start = storage + offset
            records.append((platform, encoding, language, name_id, data[start : start + length]))
    records.sort(key=lambda record: record[:4])
    header = struct.pack(">HHH", 0, len(records), 6 + 12 * len(records))
    entries, strings = bytearray(), bytearray()
    for platform, encoding, language, name_id, text in records:
        entries += struct.pack(
            ">6H", platform, encoding, language, name_id, len(text), len(strings)
        )
        strings += text
    return header + bytes(entries) + bytes(strings)


def _cmap_table(mapping: dict[int, int]) -> bytes:
    """A (3, 1) format 4 character map, one segment per character."""
    codes = sorted(code for code in mapping if code < 0xFFFF)
    segments = [(code, (mapping[code] - code) & 0xFFFF) for code in codes] + [(0xFFFF, 1)]
    count = len(segments)
    selector = int(math.log2(count))
    search = 2 * (1 << selector)
    subtable = struct.pack(
        ">HHHHHHH", 4, 16 + 8 * count, 0, 2 * count, search, selector, 2 * count - search
    )
    subtable += struct.pack(f">{count}H", *(code for code, _ in segments)) + b"\0\0"
    subtable += struct.pack(f">{count}H", *(code for code, _ in segments))
    subtable += struct.pack(f">{count}H", *(delta for _, delta in segments))
    subtable += b"\0\0" * count
    return struct.pack(">HHHHI", 0, 1, 3, 1, 12) + subtable


def _sfnt(tables: dict[str, bytes]) -> bytes:
    tags = sorted(tables)
    count = len(tags)
    selector = int(math.log2(count))
    search = 16 * (1 << selector)
    header = struct.pack(">IHHHH", 0x00010000, count, search, selector, 16 * count - search)
    offset = 12 + 16 * count
    records, bodies = [], []
    head_offset = 0
    for tag in tags:
        data = tables[tag]
        if tag == "head":
            head_offset = offset
        records.append(
            struct.pack(">4sIII", tag.encode("latin-1"), _checksum(data), offset, len(data))
        )
        padded = data + b"\0" * (-len(data) % 4)
        bodies.append(padded)
        offset += len(padded)
    program = bytearray(header + b"".join(records) + b"".join(bodies))
    adjustment = (0xB1B0AFBA - _checksum(bytes(program))) & 0xFFFFFFFF
    program[head_offset + 8 : head_offset + 12] = struct.pack(">I", adjustment)
    return bytes(program)


def _font_file(pattern: str) -> Path:
    """The file fontconfig picks for `pattern`, as WeasyPrint would."""
    command = shutil.which("fc-match")
    if command is None:
        raise StampError("fontconfig's fc-match is missing: no font for the stamps.")
    try:
        found = subprocess.run(
            [command, "--format=%{file}", pattern],
            capture_output=True,
            check=False,
            timeout=10,
            text=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as error:
        raise StampError(f"fontconfig could not be asked for {pattern!r}.") from error
    if not found or not Path(found).is_file():
        raise StampError(f"fontconfig found no font for {pattern!r}.")
    return Path(found)


_fonts_lock = threading.Lock()
_fonts: dict[bool, tuple[TrueTypeFont, ...]] = {}


def fonts(bold: bool) -> tuple[TrueTypeFont, ...]:
    """The font of a style, then its fallback if another file; read once."""
    with _fonts_lock:
        if bold not in _fonts:
            chosen: list[TrueTypeFont] = []
            for pattern in (FONT_PATTERNS[bold], FALLBACK_PATTERNS[bold]):
                path = _font_file(pattern)
                if all(font.path != path for font in chosen):
                    try:
                        chosen.append(TrueTypeFont(path))
                    except StampError:
                        raise
                    except Exception as error:  # a damaged or unexpected font file
                        raise StampError(f"{path.name} cannot be read.") from error
            _fonts[bold] = tuple(chosen)
        return _fonts[bold]


def warm_up() -> None:
    """Read the fonts now (a forked renderer then inherits them)."""
    fonts(False)
    fonts(True)


# ---------------------------------------------------------------------------
# Text


def clean(text: str) -> str:
    """One line of printable text: no control or format characters, spaces
    collapsed, NFC, bounded."""
    text = unicodedata.normalize("NFC", text[: 4 * MAX_INPUT_CHARACTERS])
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    return " ".join(text.split())[:MAX_INPUT_CHARACTERS]


@dataclass
class _Run:
    font: TrueTypeFont
    text: str
    glyphs: list[int]


class _Shaper:
    """Maps characters to glyphs of the style's fonts, and measures them."""

    def __init__(self, style: _Style) -> None:
        self.style = style
        self.fonts = fonts(style.bold)

    def glyph(self, ch: str) -> tuple[TrueTypeFont, int, str]:
        code = ord(ch)
        for font in self.fonts:
            glyph = font.cmap.get(code)
            if glyph:
                return font, glyph, ch
        first = self.fonts[0]
        return first, first.cmap.get(ord(REPLACEMENT), 0), REPLACEMENT

    def width(self, text: str) -> float:
        total = 0.0
        for ch in text:
            font, glyph, _ = self.glyph(ch)
            total += font.advance(glyph) / font.units_per_em
        return total * self.style.size + self.style.spacing * len(text)

    def runs(self, text: str) -> list[_Run]:
        runs: list[_Run] = []
        for ch in text:
            font, glyph, shown = self.glyph(ch)
            if not runs or runs[-1].font is not font:
                runs.append(_Run(font, "", []))
            runs[-1].text += shown
            runs[-1].glyphs.append(glyph)
        return runs

    def fit(self, text: str, width: float) -> int:
        """How many characters of `text` fit in `width` (at least one)."""
        used = 0.0
        for index, ch in enumerate(text):
            font, glyph, _ = self.glyph(ch)
            used += font.advance(glyph) / font.units_per_em * self.style.size + self.style.spacing
            if used > width:
                return max(index, 1)
        return len(text)

    def wrap(self, text: str, width: float) -> list[str]:
        """Lines of at most `width`, broken between words (inside a word too
        long for a line), the last one ending with an ellipsis if cut."""
        lines: list[str] = []
        current = ""
        for word in text.split(" "):
            candidate = f"{current} {word}" if current else word
            if self.width(candidate) <= width:
                current = candidate
                continue
            if current:
                lines.append(current)
            while self.width(word) > width:
                cut = self.fit(word, width)
                lines.append(word[:cut])
                word = word[cut:]
            current = word
            if len(lines) > self.style.max_lines:
                break
        if current:
            lines.append(current)
        if len(lines) > self.style.max_lines:
            last = lines[self.style.max_lines - 1]
            while last and self.width(last + ELLIPSIS) > width:
                last = last[:-1]
            lines = [*lines[: self.style.max_lines - 1], last.rstrip() + ELLIPSIS]
        return lines


def _number(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _rounded_rectangle(x: float, y: float, w: float, h: float, r: float) -> str:
    k = r * (1 - 0.5523)  # Bézier control points of a quarter circle
    n = _number
    return " ".join(
        [
            f"{n(x + r)} {n(y)} m",
            f"{n(x + w - r)} {n(y)} l",
            f"{n(x + w - k)} {n(y)} {n(x + w)} {n(y + k)} {n(x + w)} {n(y + r)} c",
            f"{n(x + w)} {n(y + h - r)} l",
            f"{n(x + w)} {n(y + h - k)} {n(x + w - k)} {n(y + h)} {n(x + w - r)} {n(y + h)} c",
            f"{n(x + r)} {n(y + h)} l",
            f"{n(x + k)} {n(y + h)} {n(x)} {n(y + h - k)} {n(x)} {n(y + h - r)} c",
            f"{n(x)} {n(y + r)} l",
            f"{n(x)} {n(y + k)} {n(x + k)} {n(y)} {n(x + r)} {n(y)} c",
            "h",
        ]
    )


class _UsedFonts:
    """The glyphs each font draws, and the resource name of each font."""

    def __init__(self) -> None:
        self.names: dict[int, str] = {}
        self.fonts: dict[int, TrueTypeFont] = {}
        self.characters: dict[int, dict[int, int]] = {}  # code point to old glyph id
        self.text: dict[int, dict[int, str]] = {}  # old glyph id to its text

    def name(self, run: _Run) -> str:
        key = id(run.font)
        if key not in self.names:
            self.names[key] = f"/F{len(self.names) + 1}"
            self.fonts[key] = run.font
            self.characters[key] = {}
            self.text[key] = {}
        for ch, glyph in zip(run.text, run.glyphs, strict=True):
            self.characters[key].setdefault(ord(ch), glyph)
            self.text[key].setdefault(glyph, ch)
        return self.names[key]


@dataclass(frozen=True)
class _Show:
    """Draw `glyphs` (old ids of one font) at `size`."""

    font: str  # resource name
    size: float
    glyphs: tuple[int, ...]


@dataclass(frozen=True)
class Drawing:
    """A stamp laid out: content stream operators and the fonts they name."""

    operators: tuple[str | _Show, ...]
    width: float
    height: float
    used: _UsedFonts

    def content(self, new_ids: dict[str, dict[int, int]]) -> bytes:
        """The content stream, with the glyph ids of the embedded subsets."""
        lines = []
        for op in self.operators:
            if isinstance(op, _Show):
                ids = new_ids[op.font]
                glyph_hex = "".join(f"{ids[glyph]:04x}" for glyph in op.glyphs)
                lines.append(f"{op.font} {_number(op.size)} Tf <{glyph_hex}> Tj")
            else:
                lines.append(op)
        return "\n".join(lines).encode("ascii")


def draw(stamp: Stamp, width: float = WIDTH, height: float = HEIGHT) -> Drawing:
    """Lay the stamp out in a box of `width` x `height` points."""
    inner_width = width - 2 * (MARGIN + BORDER + PADDING_X)
    blocks: list[tuple[_Style, _Shaper, list[str]]] = []
    for style, text in (
        (TITLE, stamp.title.upper()),
        (NAME, stamp.name),
        *((TEXT, line) for line in stamp.lines),
        (NOTE, stamp.note),
    ):
        cleaned = clean(text)
        if cleaned:
            shaper = _Shaper(style)
            blocks.append((style, shaper, shaper.wrap(cleaned, inner_width)))
    total = sum(
        style.space_before + style.leading * len(lines) + style.space_after
        for style, _, lines in blocks
    )
    n = _number
    used = _UsedFonts()
    ops: list[str | _Show] = [
        "q",
        "{} {} {} rg".format(*map(n, PAPER)),
        "{} {} {} RG".format(*map(n, INK)),
        f"{n(BORDER)} w",
        _rounded_rectangle(
            MARGIN + BORDER / 2,
            MARGIN + BORDER / 2,
            width - 2 * MARGIN - BORDER,
            height - 2 * MARGIN - BORDER,
            RADIUS - BORDER / 2,
        ),
        "B",
        "BT",
    ]
    x = MARGIN + BORDER + PADDING_X
    y = (height + total) / 2  # the block is centred vertically
    for style, shaper, lines in blocks:
        y -= style.space_before
        ops.append("{} {} {} rg".format(*map(n, style.colour)))
        ops.append(f"{n(style.spacing)} Tc")
        font = shaper.fonts[0]
        ascent = font.ascender / font.units_per_em * style.size
        descent = -font.descender / font.units_per_em * style.size
        for line in lines:
            # As CSS does: half the leading above the font's ascent.
            baseline = y - (style.leading - ascent - descent) / 2 - ascent
            ops.append(f"1 0 0 1 {n(x)} {n(baseline)} Tm")
            for run in shaper.runs(line):
                ops.append(_Show(used.name(run), style.size, tuple(run.glyphs)))
            y -= style.leading
        y -= style.space_after
    ops += ["ET", "Q"]
    return Drawing(tuple(ops), width, height, used)


# ---------------------------------------------------------------------------
# PDF objects


def _to_unicode(mapping: dict[int, str]) -> bytes:
    entries = [
        f"<{new:04x}> <{text.encode('utf-16-be').hex()}>" for new, text in sorted(mapping.items())
    ]
    chunks = [entries[i : i + 100] for i in range(0, len(entries), 100)]
    body = "\n".join(
        f"{len(chunk)} beginbfchar\n" + "\n".join(chunk) + "\nendbfchar" for chunk in chunks
    )
    return (
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        "1 begincodespacerange\n<0000> <ffff>\nendcodespacerange\n"
        f"{body}\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"
    ).encode("ascii")


# pyHanko's object constructors are untyped: these helpers give them types.


def _name(value: str) -> generic.NameObject:
    return generic.NameObject(value)


def _int(value: int) -> generic.NumberObject:
    return generic.NumberObject(value)  # type: ignore[no-untyped-call]


def _real(value: float) -> generic.FloatObject:
    return generic.FloatObject(round(value, 3))  # type: ignore[no-untyped-call]


def _dict(entries: dict[str, generic.PdfObject]) -> generic.DictionaryObject:
    return generic.DictionaryObject(  # type: ignore[no-untyped-call]
        {_name(key): value for key, value in entries.items()}
    )


def _numbers(values: Iterable[float]) -> generic.ArrayObject:
    return generic.ArrayObject(_real(v) for v in values)


def _stream(
    data: bytes, entries: dict[str, generic.PdfObject] | None = None
) -> generic.StreamObject:
    stream = generic.StreamObject(_dict(entries or {}), stream_data=data)
    stream.compress()  # type: ignore[no-untyped-call]
    return stream


def _embed_font(
    writer: BasePdfFileWriter, font: TrueTypeFont, characters: dict[int, int], text: dict[int, str]
) -> tuple[generic.IndirectObject, dict[int, int]]:
    """A Type0 font of the glyphs `characters` draws; the new id of each old one."""
    program, order = font.subset(characters)
    new_id = {old: new for new, old in enumerate(order)}
    tag = "".join(chr(ord("A") + b % 26) for b in hashlib.sha256(program).digest()[:6])
    base = _name(f"/{tag}+{font.postscript_name}")
    scale = 1000 / font.units_per_em
    descriptor = writer.add_object(
        _dict(
            {
                "/Type": _name("/FontDescriptor"),
                "/FontName": base,
                "/Flags": _int(4),  # symbolic, as WeasyPrint writes its fonts
                "/FontBBox": _numbers(v * scale for v in font.bbox),
                "/ItalicAngle": _real(font.italic_angle),
                "/Ascent": _real(font.ascender * scale),
                "/Descent": _real(font.descender * scale),
                "/CapHeight": _real(font.cap_height * scale),
                "/StemV": _int(80),
                "/FontFile2": writer.add_object(
                    _stream(program, {"/Length1": _int(len(program))})
                ),
            }
        )
    )
    descendant = writer.add_object(
        _dict(
            {
                "/Type": _name("/Font"),
                "/Subtype": _name("/CIDFontType2"),
                "/BaseFont": base,
                "/CIDSystemInfo": _dict(
                    {
                        "/Registry": generic.pdf_string("Adobe"),
                        "/Ordering": generic.pdf_string("Identity"),
                        "/Supplement": _int(0),
                    }
                ),
                "/FontDescriptor": descriptor,
                "/W": generic.ArrayObject(
                    [_int(0), _numbers(font.advance(old) * scale for old in order)]
                ),
                "/CIDToGIDMap": _name("/Identity"),
            }
        )
    )
    to_unicode = _to_unicode({new_id[old]: ch for old, ch in text.items()})
    font_ref = writer.add_object(
        _dict(
            {
                "/Type": _name("/Font"),
                "/Subtype": _name("/Type0"),
                "/BaseFont": base,
                "/Encoding": _name("/Identity-H"),
                "/DescendantFonts": generic.ArrayObject([descendant]),
                "/ToUnicode": writer.add_object(_stream(to_unicode)),
            }
        )
    )
    return font_ref, new_id


def write_resources(
    writer: BasePdfFileWriter, drawing: Drawing
) -> tuple[bytes, generic.DictionaryObject]:
    """Embed the drawing's fonts in `writer`; return the content stream and
    its /Font resources."""
    font_resources = _dict({})
    new_ids: dict[str, dict[int, int]] = {}
    used = drawing.used
    for key, name in used.names.items():
        ref, new_ids[name] = _embed_font(
            writer, used.fonts[key], used.characters[key], used.text[key]
        )
        font_resources[_name(name)] = ref
    return drawing.content(new_ids), font_resources


def stamp_pdf(stamp: Stamp) -> bytes:
    """The stamp alone, as a one-page PDF the size of the signature box."""
    drawing = draw(stamp)
    writer = PdfFileWriter(stream_xrefs=False)  # type: ignore[no-untyped-call]
    content, font_resources = write_resources(writer, drawing)
    page = PageObject(  # type: ignore[no-untyped-call]
        contents=writer.add_object(_stream(content)),
        media_box=(0, 0, drawing.width, drawing.height),
        resources=_dict({"/Font": font_resources}),
    )
    writer.insert_page(page)  # type: ignore[no-untyped-call]
    out = io.BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]
    return out.getvalue()
