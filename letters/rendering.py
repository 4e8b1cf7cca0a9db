"""Letters as archival PDF (PDF/A-2b), rendered by WeasyPrint.

Letters are built only from server-side templates under `templates/pdf/`:
every value from the database lands in HTML text, escaped by Django. The
only resources WeasyPrint may load are the bundled assets under
`static/pdf/` and the letterhead logo, through `LetterFetcher`, which every
`HTML(...)` and `CSS(...)` of the project receives. Any other URL
(file:, http(s):, data:, ftp:, relative, redirects…) stops the rendering.

The PDF's metadata carries the reply's reference and nothing else.

Each rendering runs in a child process forked for it, with a time limit and
a memory limit (HUISCLOS_RENDER_TIMEOUT_SECONDS, HUISCLOS_RENDER_MAX_MEMORY_BYTES):
past either, the child is killed and the caller gets LetterRenderingError,
so the web worker survives whatever the document is.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import resource
import select
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import weasyprint
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from weasyprint.document import DocumentMetadata
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

from accounts.models import Role, User
from requests_app.models import DisclosureRequest, Reply, ReplyItem, ReplyKind, Signature

from . import citations, stamps
from .composition import compose_reply_body, subject_phrase
from .dates import french_date as french_date
from .errors import LetterUnavailable
from .models import Letterhead
from .protocol import protocol_of

logger = logging.getLogger(__name__)

PDF_VARIANT = "pdf/a-2b"
ASSET_PREFIX = "huisclos:static/"
LOGO_URL = "huisclos:letterhead-logo"
ASSET_TYPES = {
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".woff2": "font/woff2",
}

# Named destinations WeasyPrint writes for these ids give the corners of the
# rectangles reserved for the two signature fields (see signing.py).
SIGNATURE_ANCHORS = {
    Role.DIRECTOR_GENERAL.value: "sig-director",
    Role.PRESIDENT.value: "sig-president",
}
CAPACITY_LABELS = {
    Role.DIRECTOR_GENERAL.value: _("The Director general"),
    Role.PRESIDENT.value: _("The President"),
}
STAMP_CAPACITY_LABELS = {
    Role.DIRECTOR_GENERAL.value: _("Director general"),
    Role.PRESIDENT.value: _("President"),
}
LETTER_KINDS = (
    ReplyKind.DISCLOSURE,
    ReplyKind.REFUSAL,
    ReplyKind.INADMISSIBILITY,
    ReplyKind.ACKNOWLEDGEMENT,
    ReplyKind.ACCESS,
)


# ---------------------------------------------------------------------------
# The locked fetcher


def asset_dir() -> Path:
    return Path(settings.BASE_DIR) / "static" / "pdf"


_assets_lock = threading.Lock()
_assets: dict[str, tuple[bytes, str]] | None = None


def bundled_assets() -> Mapping[str, tuple[bytes, str]]:
    """The files directly under static/pdf/, read once, keyed by URL."""
    global _assets
    with _assets_lock:
        if _assets is None:
            found = {}
            for path in sorted(asset_dir().iterdir()):
                content_type = ASSET_TYPES.get(path.suffix.lower())
                if path.is_file() and content_type:
                    found[f"{ASSET_PREFIX}{path.name}"] = (path.read_bytes(), content_type)
            _assets = found
        return _assets


class LetterFetcher(URLFetcher):  # type: ignore[misc]  # weasyprint is untyped
    """Serves the bundled assets and the letterhead logo; refuses the rest.

    Nothing is ever fetched from the network or the file system at render
    time: the map is in memory. An unknown URL raises FatalURLFetchingError,
    which aborts the rendering instead of leaving a hole in the letter.
    """

    def __init__(self, extra_assets: Mapping[str, tuple[bytes, str]] | None = None) -> None:
        super().__init__(timeout=1, allowed_protocols=(), allow_redirects=False)
        self._map = {**bundled_assets(), **(extra_assets or {})}

    def fetch(self, url: str, headers: Mapping[str, str] | None = None) -> URLFetcherResponse:
        asset = self._map.get(url)
        if asset is None:
            raise FatalURLFetchingError(f"Resource refused by the letter fetcher: {url[:80]!r}")
        body, content_type = asset
        return URLFetcherResponse(url, body, {"Content-Type": content_type})


def letter_fetcher(letterhead: Letterhead | None = None) -> LetterFetcher:
    extra = {}
    logo = letterhead.logo_bytes() if letterhead is not None else None
    if logo is not None:
        extra[LOGO_URL] = logo
    return LetterFetcher(extra)


# ---------------------------------------------------------------------------
# HTML to PDF


class LetterRenderingError(Exception):
    """WeasyPrint was stopped, e.g. by the fetcher refusing a resource."""


def _render_in_process(
    html: str,
    reference: str,
    fetcher: LetterFetcher,
    pdf_variant: str | None,
    *,
    image_cache: dict[str, Any] | None = None,
) -> bytes:
    try:
        document = weasyprint.HTML(string=html, url_fetcher=fetcher, base_url=None).render(
            font_config=_font_config,
            # By default a copy: what a rendering adds (the letterhead's
            # logo) stays with it.
            cache=dict(_image_cache) if image_cache is None else image_cache,
        )
        document.metadata = DocumentMetadata(
            title=reference or None,
            keywords=[reference] if reference else [],
            lang="fr-BE",
        )
        pdf: bytes = document.write_pdf(pdf_variant=pdf_variant, uncompressed_pdf=False)
    except FatalURLFetchingError as error:
        # A BaseException in WeasyPrint: turn it into an ordinary error.
        raise LetterRenderingError(str(error)) from None
    return pdf


# A letter made of static sample values, rendered once in this process
# with the real template, so that every forked renderer inherits warm state
# instead of rebuilding it in each child: fontconfig's and WeasyPrint's
# caches (without any warm-up, each letter took 40 % longer); the fonts
# WeasyPrint opened and measured, through one FontConfiguration that every
# rendering uses (a new one per rendering costs 17 % more instructions);
# and what the interpreter learnt running every layout path a letter takes
# (letterhead, tables, running footer, signature blocks), which a child
# would otherwise redo, page by copied page (warming up with one paragraph
# instead left each letter 20 to 40 ms slower, issue 15). The configuration
# only ever holds the system's fonts: the style sheets are ours and have no
# @font-face. The parsed bundled images are kept too; a letterhead's logo is
# parsed in the child that renders it and goes with it. The signature
# stamps' fonts are read then as well (stamps.py).
_warm = False
_warm_lock = threading.Lock()
_font_config: FontConfiguration | None = None
_image_cache: dict[str, Any] = {}


def _warm_up_html() -> str:
    """A disclosure letter of sample values, through the letters' template."""
    sample = "Préchauffage du rendu : « àéèêëïôùç », 1er janvier 2026, réf. SP-2026-0001."
    director, president = signature_blocks([])
    return render_to_string(
        "pdf/disclosure.html",
        {
            "letterhead": SimpleNamespace(
                name="CPAS",
                city="Namur",
                phone="081 00 00 00",
                email="cpas@example.invalid",
                website="www.example.invalid",
                enterprise_number="0000.000.000",
                dpo_contact="dpo@example.invalid",
            ),
            "letterhead_address": ["Rue de l'Exemple 1", "5000 Namur"],
            "has_logo": False,
            "show_org_kind": True,
            "reference": "SP-2026-0001",
            "requester_reference": "NA.00.L0.000000/26",
            "letter_date": "1er janvier 2026",
            "received_on": "1er janvier 2026",
            "subject": sample,
            "protocol": SimpleNamespace(
                title="Madame la Juge d'instruction",
                salutation="Madame la Juge,",
                closing="Veuillez agréer, Madame la Juge, nos salutations distinguées.",
            ),
            "secrecy_rule": sample,
            "addressee_name": "Madame Exemple",
            "addressee_organisation": "Tribunal de première instance",
            "addressee_address": ["Place de l'Exemple 5", "5000 Namur"],
            "persons": ["Prénom NOM (° 01/01/1990)"],
            "kind": ReplyKind.DISCLOSURE,
            "sig_director": director,
            "sig_president": president,
            "blocks": [
                Block("p", [sample * 3]),
                Block(
                    "items", items=[(1, sample, "Adresse", sample), (2, sample, "Aide", sample)]
                ),
                Block("ul", [sample, sample]),
                Block("p", [sample * 2]),
            ],
            "printed_bases": [sample],
            "body_states_necessity": False,
            "dg_paragraph": sample,
        },
    )


def _warm_up() -> None:
    global _warm, _font_config
    with _warm_lock:
        if not _warm:
            _font_config = FontConfiguration()
            try:
                # Bundled assets only (no letterhead logo): what the cache may keep.
                _render_in_process(
                    _warm_up_html(), "", LetterFetcher(), PDF_VARIANT, image_cache=_image_cache
                )
            except Exception:
                # Only slower letters: the rendering that follows reports
                # whatever really stops them.
                logger.warning("The letters' warm-up rendering failed.", exc_info=True)
            with contextlib.suppress(stamps.StampError):  # reported when a stamp is drawn
                stamps.warm_up()
            _warm = True


def render_html(
    html: str,
    *,
    reference: str = "",
    fetcher: LetterFetcher | None = None,
    pdf_variant: str | None = PDF_VARIANT,
) -> bytes:
    """Render project HTML to PDF/A with the locked fetcher, within the limits.

    The metadata is replaced wholesale: title and keywords are the reference
    (when given), nothing else, whatever the HTML contains.
    """
    _warm_up()
    locked = fetcher or LetterFetcher()
    return run_limited(
        lambda: _render_in_process(html, reference, locked, pdf_variant),
        timeout=settings.HUISCLOS_RENDER_TIMEOUT_SECONDS,
        max_memory=settings.HUISCLOS_RENDER_MAX_MEMORY_BYTES,
    )


# What the child writes before the PDF: one status byte.
_OK, _REFUSED, _FAILED = b"0", b"1", b"2"


def _virtual_memory() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def run_limited(work: Callable[[], bytes], *, timeout: float, max_memory: int) -> bytes:
    """`work()` in a forked child: killed after `timeout` seconds, and unable
    to grow its address space by more than `max_memory` bytes.

    Forking shares the loaded fonts and templates with the child at no cost;
    the child never touches the database and leaves with os._exit, so the
    parent's connections are untouched. Any failure in the child (the limit
    reached, a crash) is a LetterRenderingError here; nothing of the child
    outlives the call.
    """
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        # In a threaded server (runserver, the tests' live server) the child
        # could block on a lock another thread held at the fork; the time
        # limit turns that into an error like any other. gunicorn's sync
        # workers, the production setup, have one thread.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child; its outcome is read by the parent
        status, payload = _FAILED, b""
        try:
            # Inherited objects are the parent's: no collection in the child
            # may run their finalizers (a connection's, a temporary file's).
            gc.freeze()
            # Fewer young collections while WeasyPrint allocates: about 6 %
            # of a letter's rendering went to them. Cycles are still
            # collected, and the memory limit below still holds.
            gc.set_threshold(50_000, 20, 100)
            os.close(read_end)
            # RLIMIT_AS bounds what the child can add to what it inherited:
            # past it, allocations fail (MemoryError, or the child dies).
            limit = _virtual_memory() + max_memory
            resource.setrlimit(
                resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1])
            )
            status, payload = _OK, work()
        except LetterRenderingError:
            status = _REFUSED
        except BaseException:
            status = _FAILED
        finally:
            try:
                with os.fdopen(write_end, "wb") as out:
                    out.write(status + payload)
            finally:
                os._exit(0)
    os.close(write_end)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LetterRenderingError(f"rendering stopped after {timeout} s")
            ready, _, _ = select.select([read_end], [], [], remaining)
            if ready:
                chunk = os.read(read_end, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
    finally:
        os.close(read_end)
        with contextlib.suppress(ProcessLookupError):  # already gone
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    answer = b"".join(chunks)
    if answer[:1] == _OK:
        return answer[1:]
    if answer[:1] == _REFUSED:
        raise LetterRenderingError("a resource was refused by the letter fetcher")
    raise LetterRenderingError("the rendering failed or went past its memory limit")


# ---------------------------------------------------------------------------
# Building the letters' context


def display_name(user: User) -> str:
    full = user.get_full_name().strip()
    return full or user.get_username()


@dataclass
class Block:
    kind: str  # "p", "ul" or "items"
    lines: list[str] = field(default_factory=list)
    # (position, description, category, letter citation of the basis)
    items: list[tuple[int, str, str, str]] = field(default_factory=list)


def body_blocks(body: str) -> list[Block]:
    """Paragraphs, and bulleted lines ("- …") grouped into lists."""
    blocks: list[Block] = []
    for raw in body.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("- "):
            if not blocks or blocks[-1].kind != "ul":
                blocks.append(Block("ul"))
            blocks[-1].lines.append(line[2:].strip())
        else:
            blocks.append(Block("p", [line]))
    return blocks


def _same_text(text: str) -> str:
    return " ".join(text.split())


def letter_blocks(reply: Reply) -> list[Block]:
    """The reply's body, with its items taken from the approved ReplyItems.

    Bulleted lines of the body that repeat an approved item are replaced by
    the structured list of approved items (description, category and the
    letter citation, on the decision date, of the basis that allows it), at
    the place of the first one; the items are added after the first
    paragraph when the body does not list them.
    """
    blocks = body_blocks(reply.body)
    if reply.kind != ReplyKind.DISCLOSURE:
        return blocks
    # Items usually share their basis: one catalogue lookup per basis.
    cited: dict[int, str] = {}

    def citation(item: ReplyItem) -> str:
        if item.legal_basis_id not in cited:
            cited[item.legal_basis_id] = citations.require_citation(
                item.legal_basis, reply.decided_on
            )
        return cited[item.legal_basis_id]

    items = [
        (item.position, item.description, item.get_data_category_display(), citation(item))
        for item in reply.items.select_related("legal_basis")
    ]
    descriptions = {_same_text(item[1]) for item in items}
    result: list[Block] = []
    placed = False
    for block in blocks:
        if block.kind == "ul":
            kept = [line for line in block.lines if _same_text(line) not in descriptions]
            if len(kept) != len(block.lines) and not placed:
                result.append(Block("items", items=items))
                placed = True
            if kept:
                result.append(Block("ul", kept))
        else:
            result.append(block)
    if not placed and items:
        result.insert(1 if result else 0, Block("items", items=items))
    return result


@dataclass
class SignatureBlock:
    capacity: str
    label: str
    anchor: str
    signer_name: str = ""
    acting: bool = False


def signature_blocks(signatures: Iterable[Signature]) -> list[SignatureBlock]:
    by_capacity = {s.capacity: s for s in signatures}
    blocks = []
    for capacity in (Role.DIRECTOR_GENERAL.value, Role.PRESIDENT.value):
        block = SignatureBlock(
            capacity, str(CAPACITY_LABELS[capacity]), SIGNATURE_ANCHORS[capacity]
        )
        signature = by_capacity.get(capacity)
        if signature is not None:
            block.signer_name = display_name(signature.signer)
            block.acting = signature.is_acting
        blocks.append(block)
    return blocks


def _person_line(person: Any) -> str:
    name = f"{person.first_names} {person.last_name.upper()}".strip()
    if person.birth_date:
        return f"{name} (° {person.birth_date:%d/%m/%Y})"
    return name


def letterhead_required() -> bool:
    """Whether letters need a complete letterhead: in production.

    config.settings derives HUISCLOS_REQUIRE_LETTERHEAD from how the server
    was started (on unless DJANGO_DEBUG), not from settings.DEBUG, which the
    test runner turns off whatever the deployment. Unset means required."""
    return bool(getattr(settings, "HUISCLOS_REQUIRE_LETTERHEAD", True))


def checked_letterhead(letterhead: Letterhead) -> Letterhead:
    """The letterhead, if a letter may go out under it.

    In production a letter names the centre, its address, a contact and its
    data protection officer: while any of them is missing or still holds a
    default or demonstration value, no letter is produced."""
    if letterhead_required():
        missing = letterhead.missing_fields()
        if missing:
            raise LetterUnavailable(
                gettext(
                    "No letter can be produced until the letterhead is completed. An "
                    "administrator must fill in, in the administration under Official letters "
                    "› Letterhead: %(fields)s."
                )
                % {"fields": gettext("; ").join(missing)},
                cause="letterhead_incomplete",
            )
    return letterhead


def _common_context(
    disclosure_request: DisclosureRequest, letterhead: Letterhead, letter_date: date, law_day: date
) -> dict[str, Any]:
    """What every letter shows; `law_day` is the day whose law it prints."""
    checked_letterhead(letterhead)
    protocol = protocol_of(disclosure_request)
    return {
        "letterhead": letterhead,
        "letterhead_address": letterhead.address_lines(),
        "has_logo": letterhead.has_logo(),
        "show_org_kind": "action sociale" not in letterhead.name.lower(),
        "reference": disclosure_request.reference,
        "requester_reference": disclosure_request.requester_reference,
        "letter_date": french_date(letter_date),
        "received_on": french_date(disclosure_request.received_on),
        "subject": subject_phrase(disclosure_request),
        "protocol": protocol,
        "secrecy_rule": citations.secrecy_rule(law_day),
        "addressee_name": protocol.addressee(disclosure_request.requester_name),
        "addressee_organisation": disclosure_request.requester_organisation,
        "addressee_address": [
            line.strip()
            for line in disclosure_request.requester_address.splitlines()
            if line.strip()
        ],
        "persons": [_person_line(p) for p in disclosure_request.persons.all()],
    }


def _local_date(moment: datetime) -> date:
    return timezone.localtime(moment).date() if timezone.is_aware(moment) else moment.date()


def letter_html(
    reply: Reply, letterhead: Letterhead | None = None, *, include_signatures: bool = True
) -> str:
    """The letter's HTML. Signers' names appear under the signature blocks
    when `include_signatures` and the reply is signed; the archival PDF is
    rendered without them, before any signature, and each signature's
    visible stamp then names its signer.

    The law it prints is the catalogue's on the decision date. Raises
    LetterUnavailable when the letterhead is incomplete (production) or the
    catalogue cannot say what to print."""
    if reply.kind not in LETTER_KINDS:
        raise ValueError(f"Unknown reply kind {reply.kind!r}")
    letterhead = letterhead or Letterhead.load()
    disclosure_request = reply.request
    decided_on = reply.decided_on
    context = _common_context(
        disclosure_request, letterhead, _local_date(reply.created_at), decided_on
    )
    signatures = reply.signatures.select_related("signer") if include_signatures else []
    director, president = signature_blocks(signatures)
    context.update(
        {
            "kind": reply.kind,
            "sig_director": director,
            "sig_president": president,
            "blocks": letter_blocks(reply),
            # Only what a letter may print: context cards and circulars have
            # no letter citation and are left out.
            "printed_bases": citations.printed_citations(reply.legal_bases.all(), decided_on),
            # The body says it in the language it was composed in, with the
            # words of composition.compose_reply_body.
            "body_states_necessity": gettext("strictly necessary") in reply.body,
            # Plain text typed by the DG: escaped like every other value.
            "dg_paragraph": reply.dg_paragraph,
        }
    )
    return render_to_string(f"pdf/{reply.kind}.html", context)


def render_letter(reply: Reply) -> bytes:
    """The official letter of `reply`, as PDF/A bytes (not yet signed)."""
    letterhead = Letterhead.load()
    html = letter_html(reply, letterhead)
    return render_html(html, reference=reply.request.reference, fetcher=letter_fetcher(letterhead))


def acknowledgement_html(
    disclosure_request: DisclosureRequest, letterhead: Letterhead | None = None
) -> str:
    """The acknowledgement of the request: its stored letter when one was
    prepared, else composed now, unsigned. Either way it prints the law in
    force on the day the request was received (the stored one's `decided_on`)."""
    letterhead = letterhead or Letterhead.load()
    stored = disclosure_request.acknowledgement()
    if stored is not None:
        return letter_html(stored, letterhead)
    law_day = disclosure_request.received_on
    context = _common_context(
        disclosure_request, letterhead, _local_date(disclosure_request.created_at), law_day
    )
    director, president = signature_blocks([])
    body = compose_reply_body(
        disclosure_request, ReplyKind.ACKNOWLEDGEMENT, [], [], decided_on=law_day
    )
    context.update(
        {
            "kind": ReplyKind.ACKNOWLEDGEMENT,
            "sig_director": director,
            "sig_president": president,
            "blocks": body_blocks(body),
        }
    )
    return render_to_string("pdf/acknowledgement.html", context)


def render_acknowledgement(disclosure_request: DisclosureRequest) -> bytes:
    """The acknowledgement of receipt of a written request (unsigned)."""
    letterhead = Letterhead.load()
    html = acknowledgement_html(disclosure_request, letterhead)
    return render_html(
        html, reference=disclosure_request.reference, fetcher=letter_fetcher(letterhead)
    )


def signature_stamp(
    *,
    signer_name: str,
    capacity: str,
    acting: bool,
    signed_at: datetime,
    reference: str = "",
) -> stamps.Stamp:
    """What the visible signature says, in the active language, at the time
    of the signature in the server's time zone (Brussels)."""
    local = timezone.localtime(signed_at)
    lines = []
    if acting:
        lines.append(f"{STAMP_CAPACITY_LABELS.get(capacity, '')} {gettext('acting')}".strip())
    lines.append(
        gettext("on %(signed_on)s at %(signed_time)s")
        % {"signed_on": french_date(local.date()), "signed_time": local.strftime("%H:%M")}
    )
    return stamps.Stamp(
        title=gettext("Electronically signed by"),
        name=signer_name,
        lines=tuple(lines),
        note=gettext("PAdES signature · ref. %(reference)s") % {"reference": reference}
        if reference
        else "",
    )


def render_stamp(
    *,
    signer_name: str,
    capacity: str,
    acting: bool,
    signed_at: datetime,
    reference: str = "",
) -> bytes:
    """The visible signature alone, as a one-page PDF the size of a signature
    rectangle: what signing.sign draws in the field for the same
    `signature_stamp` (same text, fonts and layout)."""
    stamp = signature_stamp(
        signer_name=signer_name,
        capacity=capacity,
        acting=acting,
        signed_at=signed_at,
        reference=reference,
    )
    try:
        return stamps.stamp_pdf(stamp)
    except stamps.StampError as error:
        raise LetterRenderingError(str(error)) from error
