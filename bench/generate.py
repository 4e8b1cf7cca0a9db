"""Build a realistic large Huis clos database, quickly, for the benchmarks of issue 15.

Usage (PostgreSQL only; the database is created if missing; `huisclos` and
`postgres` are refused):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/huisclos_gen_100k \\
        .venv/bin/python bench/generate.py --requests 100000 --events 5000000 [--reset]
        [--years 8] [--seed 15] [--letters 20] [--no-check] [--check-sample 2]

On a database it already built with the same options it only prints what is
there (with `--check`: and runs the page check again); a database holding
anything else is refused unless `--reset` (which drops it and
var/bench/<name>/; the files it stored stay, since a copy made with
`createdb -T` shares them: the manifest lists them). Phases, each timed
(wall, and CPU of this process):

1. setup: migrate (and the cache table); the legal-basis catalogue loaded
   as `load_demo` and the test world do (`releases.load_shipped`, its audit
   events dated the day before the period); personas (below); a letterhead
   that passes `missing_fields`; 32 small scans in the private storage
   (settings.PRIVATE_STORAGE_ROOT, as configured), shared by the written
   requests (a scan is never rewritten in place; a correction that replaces
   one deletes the old file, so do not correct scans on a generated
   database);
2. plan: every request's life, drawn with `--seed`, in Python;
3. copy: the rows with `COPY` (psycopg 3 `cursor.copy`), every table's
   column list read from the model's `_meta.concrete_fields` at run time (a
   column this script does not know gets the field's default, and is named);
   a derived `ConcernedPerson.search_name` is filled with the model's own
   function when the field exists. Within the loading transaction the
   tables' secondary indexes, unique and foreign-key constraints are dropped
   and put back as they were (definitions read from pg_catalog): PostgreSQL
   builds each index in one sort and checks each foreign key in one join,
   so every constraint still holds for every row; check constraints,
   primary keys and the audit table's append-only triggers stay in place
   throughout (nothing is updated, deleted or truncated);
4. events: the audit trail with `COPY`, chained after the catalogue's events
   (sha256 of the canonical form of `audit.chain`, checked against
   `canonical_text` on the first events, the first 50 of each action and
   one in 50,000): the requests' lifecycle, as the services record it, plus
   sessions, reads and searches: `--events` in all at this point (the real
   letters and the page check add a few hundred after);
5. letters: `--letters` requests (default 20) taken through the real
   services from registration to two PAdES signatures (a few then dispatched
   and closed), plus one request per letter kind left unsigned and one signed
   once; their pks are printed and kept in the manifest;
6. documents: every generated reply gets its `ReplyDocument` (and any row
   the letters app keeps per document, such as recorded validations), cloned
   from the real letter of the same kind and signature count: a fully or
   partly signed letter that can no longer change shares that letter's file
   (nothing rewrites or deletes a signed file); a letter still awaiting a
   signature gets its own copy, since signing replaces the file (about 200
   copies at 100,000 requests). With `--letters 0` nothing is signed for
   real and generated replies have no document (the pages then show no PDF);
7. vacuum analyze; the chain head signed as an audit checkpoint with a key
   of this database's own (var/bench/<name>/: a chain over 1,000 events needs
   a checkpoint, and a checkpoint names one chain), then `manage.py
   verify_audit` walks the whole chain once against it and must say OK;
8. check (unless `--no-check`): with Django's test client, DEBUG on, the
   request page of two requests per state as the Président, the DG, the
   secretariat and a referent (their own request: 200; another's: 404),
   the signature page for the signers, the register and every home page:
   any server error fails the run.

It prints each phase's time, every table's row count, the personas, and
writes var/bench/<name>/manifest.json (see bench/harness.py:
`load_manifest`, `generated_env`). The process runs with DJANGO_DEBUG=true
and sets, as any server of the database must (`generated_env`):
HUISCLOS_AUDIT_CHECKPOINT_DIR (that directory), HUISCLOS_SIGNING_PASSPHRASE
and HUISCLOS_SIGNING_TRUST_ROOTS (the test PKI in var/bench/pki, shared by
every generated database).

Distribution (the defaults; `--requests` and `--years` scale it):

- requests received on Belgian working days over `--years` years up to
  yesterday, volume growing 6 % a year, registered the same day (70 %) or
  one or two working days later; numbered per year of receipt in the order
  of registration, as `register_request` numbers them;
- channel: post 52 %, e-mail 30 %, registered post 10 %, hand delivery 4 %,
  fax 0.5 %, oral 3.5 % (recorded and closed at once); written requests are
  inadmissible 4 % of the time (person not identified, or no provision),
  answered by an inadmissibility letter;
- requester kinds as a CPAS sees them (police 22 %, investigating judge
  10 %, Crown prosecutor 10 %, bailiff 10 %, court 8 %, debt mediator 6 %,
  social inspection 5 %, lawyers, landlords, other CPAS, public bodies,
  municipalities, tax, SECAL, the person concerned, ...), with names,
  organisations, addresses, references, offices and forms of address that
  fit the kind; a requester deadline on 30 % (10 to 30 days), otherwise the
  default deadline of the kind (15 working days when none is set);
- 1 to 3 persons concerned (75 / 20 / 5 %), last names from a Belgian mix
  (about a third with accents or other marks), first names, birth date
  (1935-2012), national number valid modulo 97 on 70 %, CPAS file number on
  40 %; follow-ups (`follows`) on 1 %;
- examination: assigned by the Président (70 %) or the DG to one of ten
  referents (reassigned 2 %), opinion after 2 to 10 working days: a
  disclosure (in part or in full) with the likelihood of the kind, on the
  catalogue's bases that ground a disclosure for that kind and are in force
  on the day, 1 to 3 items in categories the basis allows, the documents the
  basis requires, every checklist condition answered; otherwise a refusal.
  4 % of disclosures answer a condition "not met" with an override reason,
  which the DG's approving review repeats (`override_reason`); a contested
  basis gets the DG's legal analysis. 6 % of opinions are returned once for
  revision; 8 % of approvals amend the items; 5 % of proposed disclosures
  are refused by the DG;
- the reply (disclosure, refusal or inadmissibility) is signed by the DG,
  then the Président (1 % declined once by the Président and decided
  again), dispatched by the secretariat (registered post with a number on
  30 %) and closed 1 to 15 working days later;
- 3 % withdrawn (with a reason code), 0.5 % annulled (with a reason, open
  letters superseded) at a random open step; 0.5 % stall once for 20 to 150
  working days (old overdue requests); 0.5 % have a registration correction;
- so about 1.5 % are open at the end (the most recent ones), spread over
  every open state, many overdue; one request at least is forced into each
  open state, dispatched, withdrawn, annulled, oral and inadmissible, so
  that tiny databases hold every state;
- audit events beyond the lifecycle (about 1.1 million for 100,000
  requests): reads of request pages (82 %, by the Président, the DG, the
  secretariat, or the request's own referent once assigned; 70 % of reads on
  requests of the last 60 days), scans (6 %), summaries (2 %), content
  searches (2 %), sign-ins and sign-outs (7.5 %), failed sign-ins, refusals;
  on working days, office hours, Brussels time; the `pdf_sha256` of a
  generated `sign_letter` event is a stand-in (the real files are signed
  after the history, so the chain stays in time order).

Personas: `secretariat`, `president`, `dg`, `auditor`, `referent01` ...
`referent10`, all with the password printed at the end (one Argon2 hash of
the project's hasher, computed once and stored for all) and a confirmed
TOTP device (their base32 keys are printed and kept in the manifest).
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import io
import json
import logging
import os
import random
import shutil
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
# The project root first, then bench/ for harness.py (shared by the benches).
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(BENCH))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import harness as _common  # noqa: E402

BENCH_SIGNING_PASSPHRASE: str = _common.BENCH_SIGNING_PASSPHRASE
GENERATED_ROOT: Path = _common.GENERATED_ROOT
database_name = _common.database_name
drop_database = _common.drop_database
ensure_database = _common.ensure_database
generated_dir = _common.generated_dir

PASSWORD = "huisclos-bench-2026"
PKI_DIR = GENERATED_ROOT / "pki"
BRUSSELS = ZoneInfo("Europe/Brussels")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US = 1_000_000
DAY_US = 86_400 * US
HOUR = 3600

# ---------------------------------------------------------------------------
# Word pools


def _words(text: str, separator: str | None = None) -> tuple[str, ...]:
    return tuple(text.split(separator))


LAST_NAMES = _words(
    "Dupont Lambert Peeters Janssens Maes Jacobs Mertens Willems Claes Goossens Wouters "
    "Dubois Renard Martin Simon Laurent Leroy Lejeune Thiry Collard Gilson Massart Henrard "
    "Lemaire Delvaux Hubert Jacquet Pirard Dethier Lambotte Rousseau Delhaye Evrard Baudoux "
    "Charlier Gillet Bodart Piron Marchal Toussaint Dumont Noirhomme Bastin Wauters Wilmotte "
    "Lefèvre Dupré Gérard Hélin Noël Wéry Brédart Mélotte Rémy François Ménard Pétré Dieudonné "
    "Sépulchre Lhoëst Müller Jérôme Crémer Godefroid Sténuit André Léonard Dumoulin Mathieu "
    "Özdemir Şahin Kovačević Dąbrowski Nguyễn El-Amrani Benali Yılmaz Ćosić Łukasik Bouzid"
)
FIRST_NAMES = _words(
    "Jean Marie Pierre Michel Philippe Luc Marc Paul Nicolas Thomas Julien Kevin David Patrick "
    "Anne Isabelle Nathalie Sophie Catherine Christine Sandra Laura Julie Sarah Emma Louise "
    "Hélène Jérôme François Zoé Noémie Léa André José Anaïs Chloé Loïc Gaëlle Mélanie "
    "Stéphane Frédéric Amélie Céline Raphaël Inès Maëlle Benoît Geneviève Thérèse Léon Élise "
    "Mohamed Fatima Yasmina Ahmed Aïcha Mehmet Elif Dragana Agnieszka Thi Bérénice Clément"
)
CITIES = _words(
    "Namur Liège Charleroi Mons Dinant Huy Bruxelles Nivelles Wavre Arlon Verviers Tournai "
    "Gembloux Andenne Ciney Marche-en-Famenne Philippeville"
)
STREETS = _words(
    "rue de Fer|rue de l'Ange|avenue de la Gare|boulevard Cauchy|rue Godefroid|place Saint-Aubain|"
    "rue des Croisiers|chaussée de Louvain|rue Émile Cuvelier|rue de Bruxelles|quai de Meuse|"
    "rue du Pont|avenue Albert Ier|rue Saint-Nicolas|rue des Carmes",
    "|",
)
POLICE_ZONES = _words(
    "Namur Capitale|Entre Sambre et Meuse|Orneau-Mehaigne|Jemeppe-sur-Sambre|Lermes|Haute-Meuse|"
    "Condroz-Famenne|Dinant-Ciney|Les Arches|Samme-Ourthe",
    "|",
)
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 Version/18.0 Safari/605.1",
)

# kind: weight, likelihood of a disclosure proposal, offices, organisations.
KINDS: dict[str, tuple[float, float, tuple[str, ...], tuple[str, ...]]] = {
    "police": (
        22,
        0.35,
        ("police_officer", "police_commissioner"),
        ("Zone de police {zone}", "Police fédérale - PJF {city}"),
    ),
    "investigating_judge": (
        10,
        0.9,
        ("investigating_judge",),
        ("Tribunal de première instance de {city}",),
    ),
    "public_prosecutor": (
        10,
        0.7,
        ("crown_prosecutor", "deputy_prosecutor"),
        ("Parquet du procureur du Roi de {city}",),
    ),
    "bailiff": (10, 0.7, ("bailiff",), ("Étude de l'huissier de justice {last}",)),
    "court": (
        8,
        0.75,
        ("judge",),
        ("Tribunal du travail de {city}", "Justice de paix du canton de {city}"),
    ),
    "debt_mediator": (6, 0.8, ("", "lawyer"), ("Service de médiation de dettes de {city}",)),
    "social_inspection": (
        5,
        0.6,
        ("director",),
        ("SPF Sécurité sociale - Inspection sociale", "ONEM - Bureau du chômage de {city}"),
    ),
    "lawyer": (4, 0.2, ("lawyer",), ("Cabinet {last} & {last2}",)),
    "landlord": (4, 0.1, ("",), ("{last} Immobilière SRL", "")),
    "other_cpas": (4, 0.5, ("director",), ("CPAS de {city}",)),
    "public_body": (4, 0.5, ("director",), ("ONSS", "SPP Intégration sociale", "Forem", "INAMI")),
    "person_concerned": (3, 0.9, ("",), ("",)),
    "municipality": (2, 0.2, ("mayor",), ("Administration communale de {city}",)),
    "tax_administration": (2, 0.5, ("director",), ("SPF Finances - AGFisc {city}",)),
    "recovery_company": (2, 0.05, ("",), ("Créances Wallonie SA", "RecoFin SRL")),
    "secal": (1, 0.7, ("director",), ("SPF Finances - SECAL {city}",)),
    "labour_prosecutor": (1, 0.7, ("labour_prosecutor",), ("Auditorat du travail de {city}",)),
    "health_professional": (1, 0.3, ("",), ("Centre médical de {city}",)),
    "csilr": (0.5, 0.6, ("",), ("CSIL-R de {city}",)),
    "parliamentary_commission": (
        0.1,
        0.8,
        ("",),
        ("Commission d'enquête parlementaire",),
    ),
    "other": (1, 0.2, ("",), ("ASBL Solidarité {city}",)),
}
CHANNELS = (
    ("post", 52),
    ("email", 30),
    ("registered_post", 10),
    ("hand_delivery", 4),
    ("fax", 0.5),
    ("oral", 3.5),
)
DEFAULT_CATEGORIES = ("identification", "address", "household", "aid", "contact_dates")
ITEM_TEXT = {
    "identification": "Identité complète et numéro de registre national",
    "address": "Adresse de résidence connue du CPAS",
    "household": "Composition du ménage à la date de la demande",
    "aid": "Nature et période des aides octroyées",
    "contact_dates": "Dates des entretiens avec le service social",
    "social_situation": "Situation sociale générale",
    "health": "Éléments médicaux transmis au CPAS",
    "sums_owed": "Sommes dues par le CPAS à la personne (déclaration de tiers saisi)",
    "other": "Autre information",
}
INFORMATION = (
    "Adresse connue et aides octroyées depuis {year}.",
    "Le CPAS verse-t-il un revenu d'intégration à la personne ? Montant et période.",
    "Composition de ménage et adresse de résidence.",
    "Copie du dossier social complet de la personne.",
    "Dates des derniers contacts avec le service social.",
    "Sommes dues par le CPAS à la personne (déclaration de tiers saisi).",
    "Toute information utile sur la situation de la personne.",
)
REASONING = (
    "La demande repose sur une base légale qui permet la levée du secret pour les seules "
    "informations nécessaires. Les éléments proposés sont strictement limités à l'objet de la "
    "demande.",
    "Le demandeur ne cite aucune exception au secret professionnel applicable au CPAS ; "
    "aucune des conditions de la base invoquée n'est remplie.",
    "L'ordonnance jointe vise expressément les informations demandées ; seules l'adresse et "
    "la période d'aide sont nécessaires à l'instruction.",
    "La personne a donné son consentement écrit, daté et signé, limité aux informations "
    "reprises ci-dessous.",
)
NECESSITY = (
    "Visée expressément par la demande",
    "Nécessaire pour localiser la personne",
    "Objet même de la saisie",
    "Indispensable à l'instruction en cours",
)
REMARKS = (
    "Motivation à compléter sur la proportionnalité.",
    "Préciser la base légale retenue pour chaque élément.",
    "Aucune base légale ne permet la levée du secret dans ce cas.",
    "Vérifier la pièce jointe avant de répondre.",
)
OVERRIDE = (
    "L'urgence est établie par le courrier du demandeur ; la condition manquante est "
    "régularisée par la pièce reçue ultérieurement.",
    "La pièce requise a été produite oralement puis confirmée par courriel ; le risque est "
    "limité aux seules données d'identification.",
)
ANALYSIS = (
    "L'application de cette disposition au CPAS est discutée en doctrine ; au vu de la "
    "finalité de la demande et de la limitation des informations, la communication est admise.",
)
DECLINE_REMARKS = ("La lettre doit mentionner la référence du demandeur.",)
CORRECTION_REASONS = ("Erreur d'encodage de la référence du demandeur.",)
ANNULMENT_REASONS = (
    "Courrier enregistré deux fois.",
    "Il ne s'agissait pas d'une demande de levée du secret.",
)
WITHDRAWAL_REASONS = (
    "withdrawn_in_writing",
    "information_obtained",
    "proceedings_ended",
    "duplicate",
)
LETTER_BODY = {
    "disclosure": (
        "{civ},\n\nNous accusons réception de votre demande du {letter} (réf. {their}), "
        "enregistrée sous la référence {ref}.\n\nEn application de {citation}, nous vous "
        "communiquons les seules informations reprises ci-dessous, strictement nécessaires à "
        "l'objet de votre demande. Toute autre information reste couverte par le secret "
        "professionnel (article 458 du Code pénal et article 36 de la loi organique des CPAS).\n\n"
        "Nous vous prions d'agréer, {civ}, l'expression de notre considération distinguée."
    ),
    "refusal": (
        "{civ},\n\nNous accusons réception de votre demande du {letter} (réf. {their}), "
        "enregistrée sous la référence {ref}.\n\nLes informations détenues par le CPAS sont "
        "couvertes par le secret professionnel (article 458 du Code pénal et article 36 de la "
        "loi organique des CPAS). Aucune exception légale ne permet de vous les communiquer "
        "dans le cas présent.\n\nNous vous prions d'agréer, {civ}, l'expression de notre "
        "considération distinguée."
    ),
    "inadmissibility": (
        "{civ},\n\nNous accusons réception de votre demande du {letter}, enregistrée sous la "
        "référence {ref}.\n\nEn l'état, elle ne peut être examinée : elle ne permet pas "
        "d'identifier précisément la personne concernée ou ne cite aucune disposition légale. "
        "Nous vous invitons à nous adresser une demande complétée.\n\nNous vous prions "
        "d'agréer, {civ}, l'expression de notre considération distinguée."
    ),
}

SCAN = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
    b"xref\n0 4\n0000000000 65535 f \n0000000009 00000 n \n"
    b"0000000052 00000 n \n0000000101 00000 n \n"
    b"trailer<</Size 4/Root 1 0 R>>\nstartxref\n164\n%%EOF\n"
)
SCAN_POOL = 32

OPEN = (
    "awaiting_assignment",
    "awaiting_opinion",
    "awaiting_review",
    "awaiting_signatures",
    "partially_signed",
    "signed",
)
_canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def national_number(born: date, rng: random.Random) -> str:
    """A Belgian national number for `born`, valid modulo 97 (serial drawn at random)."""
    base = f"{born:%y%m%d}{rng.randrange(1, 998):03d}"
    number = int(("2" + base) if born.year >= 2000 else base)
    return f"{base}{97 - number % 97:02d}"


def phase_timer(timings: dict[str, tuple[float, float]]) -> Any:
    """Time each phase: wall seconds, and CPU seconds of this process (the
    database server's work is not in it; other processes on the machine
    stretch the wall time)."""

    @contextmanager
    def phase(name: str) -> Iterator[None]:
        print(f"-- {name} ...", flush=True)
        started, cpu = time.perf_counter(), time.process_time()
        yield
        timings[name] = (time.perf_counter() - started, time.process_time() - cpu)
        wall, used = timings[name]
        print(f"-- {name}: {wall:.1f} s (CPU {used:.1f} s)", flush=True)

    return phase


# ---------------------------------------------------------------------------
# Rows for COPY


class Rows:
    """Rows of one model, as tuples in the order of `attnames` (ids included)."""

    def __init__(self, model: Any, attnames: Sequence[str]) -> None:
        self.model = model
        self.attnames = tuple(attnames)
        if len(set(self.attnames)) != len(self.attnames):
            raise ValueError(f"{model.__name__}: a column is named twice")
        self.rows: list[Any] = []
        self.next_id = 1

    def new_id(self) -> int:
        value = self.next_id
        self.next_id += 1
        return value


def copy_rows(raw: Any, table: Rows) -> int:
    """COPY the rows; columns from the model's concrete fields at run time.

    A concrete field the generator does not fill gets its default (the
    database's own when it has one), so the script keeps working when a
    migration adds a column; such fields are named on the output.
    """
    from django.db.models import NOT_PROVIDED, JSONField

    meta = table.model._meta
    fields = {f.attname: f for f in meta.concrete_fields}
    unknown = [name for name in table.attnames if name not in fields]
    if unknown:
        raise RuntimeError(f"{meta.db_table}: no such columns {unknown}")
    extra = [
        f
        for name, f in fields.items()
        if name not in table.attnames and getattr(f, "db_default", NOT_PROVIDED) is NOT_PROVIDED
    ]
    if extra:
        print(f"   {meta.db_table}: filled with defaults: {', '.join(f.attname for f in extra)}")
    constant: list[Any] = []
    computed = []
    for position, f in enumerate(extra):
        if f.has_default() and callable(f.default):
            computed.append((position, f))
            constant.append(None)
        else:
            value = f.get_default()
            if isinstance(f, JSONField):
                value = json.dumps(value)
            constant.append(value)
    columns = ", ".join(f'"{fields[name].column}"' for name in table.attnames) + "".join(
        f', "{f.column}"' for f in extra
    )
    sql = f'COPY "{meta.db_table}" ({columns}) FROM STDIN'
    with raw.cursor() as cursor, cursor.copy(sql) as copy:
        write = copy.write_row
        if not extra:
            for row in table.rows:
                write(row)
        else:
            for row in table.rows:
                tail = list(constant)
                for position, f in computed:
                    value = f.get_default()
                    tail[position] = json.dumps(value) if isinstance(f, JSONField) else value
                write((*row, *tail))
    return len(table.rows)


@contextmanager
def constraints_deferred(raw: Any, tables: Sequence[str]) -> Iterator[None]:
    """Load `tables` without their secondary indexes, unique and foreign-key
    constraints, then put each back exactly as it was (same name, same
    definition, read from the catalogue first) in the same transaction.

    PostgreSQL then builds each index in one sort instead of row by row, and
    checks each foreign key in one join: every constraint is still enforced
    on every row loaded. Primary keys and check constraints stay in place.
    """
    names = list(tables)
    constraints = raw.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), contype "
        "FROM pg_constraint WHERE conrelid = ANY(%s::regclass[]) AND contype IN ('f', 'u') "
        "ORDER BY contype = 'u', conname",
        [names],
    ).fetchall()
    indexes = raw.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid "
        "AND c.contype IN ('p', 'u', 'x'))",
        [names],
    ).fetchall()
    # Foreign keys first (a unique constraint may back one), then the rest.
    for table, name, _, _ in constraints:
        raw.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for index, _ in indexes:
        raw.execute(f"DROP INDEX {index}")
    yield
    started = time.perf_counter()
    for _, definition in indexes:
        raw.execute(definition)
    for table, name, definition, _ in reversed(constraints):
        raw.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    print(
        f"   {len(indexes)} indexes and {len(constraints)} constraints put back "
        f"in {time.perf_counter() - started:.1f} s"
    )


def reset_sequences(raw: Any, models: Sequence[Any]) -> None:
    """Move each table's id sequence past the ids written explicitly."""
    for model in models:
        pk = model._meta.pk
        if pk is None or pk.get_internal_type() not in {"AutoField", "BigAutoField"}:
            continue
        table = model._meta.db_table
        raw.execute(
            f"SELECT setval(pg_get_serial_sequence('\"{table}\"', '{pk.column}'), "
            f'COALESCE((SELECT max("{pk.column}") FROM "{table}"), 0) + 1, false)'
        )


# ---------------------------------------------------------------------------
# The calendar: Belgian working days, office hours in Brussels


class Calendar:
    def __init__(self, first: date, last: date, closed: set[date]) -> None:
        import holidays

        national = set(holidays.country_holidays("BE", years=range(first.year, last.year + 1)))
        self.days: list[date] = []
        day = first
        while day <= last:
            if day.weekday() < 5 and day not in national and day not in closed:
                self.days.append(day)
            day += timedelta(days=1)
        self.midnight = [
            int(datetime(d.year, d.month, d.day, tzinfo=BRUSSELS).timestamp()) * US
            for d in self.days
        ]

    def after(self, day: date) -> int:
        """Index of the first working day after `day`."""
        return bisect.bisect_right(self.days, day)

    def on_or_after(self, day: date) -> int:
        return bisect.bisect_left(self.days, day)

    def add_working_days(self, day: date, count: int) -> date:
        """As requests_app.deadlines.add_working_days (`day` itself not counted)."""
        return self.days[self.after(day) + count - 1]


def moment(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def local_day(us: int) -> date:
    return moment(us).astimezone(BRUSSELS).date()


# ---------------------------------------------------------------------------
# The plan: every request's life


class Generator:
    def __init__(self, args: argparse.Namespace, now_us: int) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.now_us = now_us
        # Nothing generated happens in the last ten minutes: the letters and
        # the checks made through the services come after, in time order.
        self.limit_us = now_us - 600 * US
        self.events: list[tuple[Any, ...]] = []
        # (file name, sha256) of the scans the written requests share.
        self.scan_pool: list[tuple[str, str]] = []
        self._last_signature = 0

    # -- setup ---------------------------------------------------------------

    def setup(self, users: dict[str, Any], permission_id: int) -> None:
        from legal_basis.flags import SECRECY_BOUND_REQUESTERS
        from legal_basis.models import ENABLING_EFFECTS, BasisRole, LegalBasis
        from letters.services import FIELD_FOR_CAPACITY
        from requests_app import models as m
        from requests_app.models import (
            ChecklistAnswer,
            ConcernedPerson,
            DefaultDeadline,
            DisclosureRequest,
            DisclosureRequestUserObjectPermission,
            Opinion,
            OpinionItem,
            PublicHoliday,
            RegistrationCorrection,
            Reply,
            ReplyItem,
            Review,
            Signature,
            SignatureDecline,
        )

        self.users = users
        self.permission_id = permission_id
        self.field_for = FIELD_FOR_CAPACITY
        self.referents = [u.pk for u in users["referents"]]
        self.sec, self.pres, self.dg = (
            users["secretariat"].pk,
            users["president"].pk,
            users["dg"].pk,
        )
        self.auditor = users["auditor"].pk
        self.person_key = getattr(m, "person_search_name", None)
        if self.person_key is None and hasattr(m, "search_key"):
            self.person_key = lambda last, first: m.search_key(f"{last} {first}")
        person_fields = {f.attname for f in ConcernedPerson._meta.concrete_fields}
        self.with_search_name = "search_name" in person_fields and self.person_key is not None

        today = local_day(self.now_us)
        self.start = today - timedelta(days=round(365.25 * self.args.years))
        closed = set(PublicHoliday.objects.values_list("day", flat=True))
        self.cal = Calendar(self.start - timedelta(days=10), today + timedelta(days=800), closed)
        self.deadlines = dict(
            DefaultDeadline.objects.values_list("requester_kind", "working_days")
        )

        self.bases = list(LegalBasis.objects.current())
        self.grounding = [
            b
            for b in self.bases
            if b.role == BasisRole.REQUEST_BASIS and b.effect in ENABLING_EFFECTS
        ]
        self.refusing = [b for b in self.bases if b.effect in ("not_an_exception", "prohibits")]
        self.secrecy_bound = SECRECY_BOUND_REQUESTERS
        self._bases_memo: dict[tuple[str, bool, int], tuple[list[Any], list[Any]]] = {}
        self.catalogue_changes = sorted(
            {b.in_force_from for b in self.bases if b.in_force_from}
            | {b.in_force_until + timedelta(days=1) for b in self.bases if b.in_force_until}
        )

        def rows(model: Any, *names: str) -> Rows:
            return Rows(model, names)

        self.t_request = rows(
            DisclosureRequest,
            *_words(
                "id reference year number received_on channel requester_kind requester_name "
                "requester_organisation requester_address requester_reference "
                "requester_letter_date requester_function requester_civility cited_provision "
                "documents information_requested requester_deadline scan scan_content_type "
                "scan_sha256 inadmissibility_reasons state referent_id follows_id dispatched_on "
                "dispatch_channel registered_mail_number due_on registered_by_id created_at "
                "closed_at withdrawal_reason annulment_reason"
            ),
        )
        person_cols = list(
            _words(
                "id request_id last_name first_names birth_date national_number cpas_file_number"
            )
        )
        if self.with_search_name:
            person_cols.append("search_name")
        self.t_person = rows(ConcernedPerson, *person_cols)
        self.t_opinion = rows(
            Opinion,
            *_words(
                "id request_id number author_id proposal reasoning is_review override_reason "
                "legal_analysis submitted_at"
            ),
        )
        self.t_opinion_bases = rows(
            Opinion.legal_bases.through, "id", "opinion_id", "legalbasis_id"
        )
        self.t_answer = rows(
            ChecklistAnswer, "id", "opinion_id", "legal_basis_id", "position", "answer", "note"
        )
        self.t_opinion_item = rows(
            OpinionItem,
            *_words("id opinion_id position description data_category necessity legal_basis_id"),
        )
        self.t_review = rows(
            Review,
            *_words(
                "id request_id opinion_id reviewer_id outcome remarks override_reason "
                "legal_analysis reviewed_at"
            ),
        )
        self.t_reply = rows(
            Reply,
            *_words(
                "id request_id kind decided_by_review_id decided_by_opinion_id body decided_on "
                "created_at dg_paragraph superseded_at dispatched_on dispatch_channel "
                "registered_mail_number"
            ),
        )
        self.t_reply_bases = rows(Reply.legal_bases.through, "id", "reply_id", "legalbasis_id")
        self.t_reply_item = rows(
            ReplyItem,
            *_words("id reply_id position description data_category legal_basis_id"),
        )
        self.t_signature = rows(
            Signature, "id", "reply_id", "signer_id", "capacity", "is_acting", "signed_at"
        )
        self.t_decline = rows(
            SignatureDecline,
            *_words("id reply_id declined_by_id capacity remarks declined_at"),
        )
        self.t_correction = rows(
            RegistrationCorrection,
            *_words("id request_id corrected_by_id corrected_at reason fields previous_values"),
        )
        self.t_permission = rows(
            DisclosureRequestUserObjectPermission,
            *_words("id permission_id user_id content_object_id"),
        )
        self.tables = [
            self.t_request,
            self.t_person,
            self.t_opinion,
            self.t_opinion_bases,
            self.t_answer,
            self.t_opinion_item,
            self.t_review,
            self.t_reply,
            self.t_reply_bases,
            self.t_reply_item,
            self.t_signature,
            self.t_decline,
            self.t_correction,
            self.t_permission,
        ]
        # Per generated reply: [reply id, kind, signatures, needs its own file,
        # last change (us), created (us)], for the documents cloned after the
        # real letters.
        self.reply_docs: dict[int, list[Any]] = {}

    # -- small draws ------------------------------------------------------------

    def time_on(self, wi: int) -> int:
        """A moment of working day `wi`, office hours."""
        return self.cal.midnight[wi] + self.rng.randrange(8 * HOUR + 900, 17 * HOUR + 900) * US

    def later(self, us: int, wi: int, days: int) -> tuple[int, int]:
        """`days` working days after (0: later the same day, or the next morning)."""
        rng = self.rng
        if days <= 0:
            us += rng.randrange(300, 5400) * US + rng.randrange(US)
            if us - self.cal.midnight[wi] > 17 * HOUR * US + 1800 * US:
                wi += 1
                us = self.cal.midnight[wi] + rng.randrange(8 * HOUR + 900, 10 * HOUR) * US
            return us, wi
        wi += days
        return self.time_on(wi) + rng.randrange(US), wi

    def lag(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def person(self, precise: bool) -> tuple[str, str, date | None, str, str]:
        rng = self.rng
        last = rng.choice(LAST_NAMES)
        if rng.random() < 0.06:
            last = f"{last}-{rng.choice(LAST_NAMES)}"
        first = rng.choice(FIRST_NAMES)
        if rng.random() < 0.15:
            first = f"{first} {rng.choice(FIRST_NAMES)}"
        born = date(1935, 1, 1) + timedelta(days=rng.randrange(77 * 365))
        number = national_number(born, rng) if rng.random() < 0.7 else ""
        birth: date | None = born
        if not precise:
            if rng.random() < 0.5:
                first = ""
            else:
                birth, number = None, ""
        elif not number and rng.random() < 0.1:
            birth, number = None, national_number(born, rng)
        file_number = (
            f"D{born.year % 100:02d}/{rng.randrange(1, 99999):05d}" if rng.random() < 0.4 else ""
        )
        return last, first, birth, number, file_number

    def bases_for(self, kind: str, day: date, grounding: bool) -> list[Any]:
        """Bases in force on `day` that ground a disclosure (or a refusal) for `kind`;
        mostly those written for the kind rather than those open to any requester."""
        # The catalogue changes only on a few days: memoised per period.
        period = bisect.bisect_right(self.catalogue_changes, day)
        key = (kind, grounding, period)
        found = self._bases_memo.get(key)
        if found is None:
            pool = self.grounding if grounding else self.refusing
            every = [b for b in pool if b.applies_to(kind) and b.is_in_force_on(day)]
            if grounding:
                # What the opinion flags would block: shared secrecy with a
                # requester not bound by it, a police request on no police route.
                every = [
                    b
                    for b in every
                    if ("shared_secret" not in b.features or kind in self.secrecy_bound)
                    and (kind != "police" or "police_route" in b.features)
                ]
            found = self._bases_memo[key] = (every, [b for b in every if b.requester_kinds])
        every, specific = found
        return specific if specific and self.rng.random() < 0.85 else every

    def emit(
        self,
        us: int,
        actor: int | None,
        action: str,
        pk: int,
        from_state: str,
        to_state: str,
        details: dict[str, Any],
    ) -> None:
        text = _canonical(details)
        if "\\" in text or "\t" in text or "\n" in text:
            raise ValueError(f"details of {action} need COPY escaping: {text}")
        self.events.append(
            (us, actor, action, "disclosure_request", str(pk), from_state, to_state, text)
        )

    # -- the requests -------------------------------------------------------------

    def plan(self) -> None:
        """Every request's life up to now, as rows and lifecycle events."""
        rng = self.rng
        n = self.args.requests
        cal = self.cal
        yesterday = local_day(self.now_us) - timedelta(days=1)
        first_wi = cal.on_or_after(self.start)
        last_wi = bisect.bisect_right(cal.days, yesterday) - 1
        span = range(first_wi, last_wi + 1)
        weights = [1.06 ** ((cal.days[wi] - self.start).days / 365.25) for wi in span]
        received = sorted(rng.choices(span, weights=weights, k=n))
        # Registration: the same day, or one or two working days later.
        registered = []
        for wi in received:
            roll = rng.random()
            reg_wi = wi + (0 if roll < 0.7 else 1 if roll < 0.95 else 2)
            us = self.time_on(reg_wi) + rng.randrange(US)
            if us >= self.limit_us:
                reg_wi = wi
                us = min(self.time_on(wi), self.limit_us - rng.randrange(3600, 7200) * US)
            registered.append((us, reg_wi, wi))
        registered.sort()
        counters: Counter[int] = Counter()
        self.reg_us: list[int] = []
        self.references: list[str] = []
        self.written: list[bool] = []
        self.referent_of: list[int] = []
        self.assigned_us: list[int] = []
        channels, channel_weights = zip(*CHANNELS, strict=True)
        kinds = list(KINDS)
        kind_weights = [KINDS[k][0] for k in kinds]
        forced = self.forced(registered)
        for index, (reg_us, reg_wi, rec_wi) in enumerate(registered):
            pk = index + 1
            received_on = cal.days[rec_wi]
            year = received_on.year
            counters[year] += 1
            number = counters[year]
            reference = f"SP-{year}-{number:04d}"
            force = forced.get(index)
            channel = rng.choices(channels, channel_weights)[0]
            if force == "closed_oral":
                channel = "oral"
            elif force is not None and channel == "oral":
                channel = "post"
            kind = rng.choices(kinds, kind_weights)[0]
            self.reg_us.append(reg_us)
            self.references.append(reference)
            self.written.append(channel != "oral")
            self.referent_of.append(0)
            self.assigned_us.append(1 << 62)
            self.walk(
                pk,
                index,
                reference,
                year,
                number,
                received_on,
                reg_us,
                reg_wi,
                channel,
                kind,
                force,
            )
        self.year_counters = dict(counters)

    def forced(self, registered: list[tuple[int, int, int]]) -> dict[int, str]:
        """One request per state that a tiny database could otherwise miss."""
        forced: dict[int, str] = {}
        n = len(registered)
        recent_limit = self.cal.after(local_day(self.limit_us)) - 9
        candidates = [i for i in range(n - 1, -1, -1) if registered[i][1] <= recent_limit]
        wanted = [*OPEN, "dispatched"]
        for i, state in zip(candidates, wanted, strict=False):
            forced[i] = state
        older = [i for i in range(n // 2, 0, -1) if i not in forced]
        for i, state in zip(
            older, ("closed_oral", "withdrawn", "annulled", "inadmissible"), strict=False
        ):
            forced[i] = state
        return forced

    def walk(
        self,
        pk: int,
        index: int,
        reference: str,
        year: int,
        number: int,
        received_on: date,
        us: int,
        wi: int,
        channel: str,
        kind: str,
        force: str | None,
    ) -> None:
        rng = self.rng
        _, disclose_p, functions, organisations = KINDS[kind]
        compressed = force is not None
        oral = channel == "oral"
        inadmissible = not oral and (rng.random() < 0.04 or force == "inadmissible")
        if force in OPEN or force == "dispatched":
            inadmissible = False
        reasons: list[str] = []
        if inadmissible:
            roll = rng.random()
            if roll < 0.5:
                reasons = ["person_not_identified"]
            elif roll < 0.9:
                reasons = ["no_legal_provision"]
            else:
                reasons = ["person_not_identified", "no_legal_provision"]
            if kind == "person_concerned":
                # Asking about oneself is a ground in itself (flags.cites_a_ground).
                reasons = ["person_not_identified"]
        # Fate: withdrawn or annulled at an open step, or a long stall.
        fate, fate_state = "", ""
        roll = rng.random()
        if force == "withdrawn" or (force is None and roll < 0.03):
            fate = "withdraw"
        elif force == "annulled" or (force is None and roll < 0.035):
            fate = "annul"
        if fate:
            choices = (
                ["awaiting_signatures", "partially_signed", "signed"]
                if inadmissible
                else list(OPEN)
            )
            fate_state = rng.choice(choices)
        stall_at = rng.randrange(8) if rng.random() < 0.005 and not compressed else -1
        stop_at = force if force in OPEN or force == "dispatched" else ""

        def step(low: int, high: int) -> bool:
            """Advance the clock; False when that moment is still to come."""
            nonlocal us, wi, stall_at
            days = (
                0
                if compressed and rng.random() < 0.5
                else (1 if compressed else self.lag(low, high))
            )
            if stall_at == 0:
                days += rng.randint(20, 150)
            stall_at -= 1
            us, wi = self.later(us, wi, days)
            return us < self.limit_us

        # -- registration data
        persons_n = 0 if oral and rng.random() < 0.5 else rng.choices((1, 2, 3), (75, 20, 5))[0]
        persons = [
            self.person(
                precise=not (inadmissible and "person_not_identified" in reasons and i == 0)
            )
            for i in range(persons_n)
        ]
        city = rng.choice(CITIES)
        last, first = rng.choice(LAST_NAMES), rng.choice(FIRST_NAMES)
        organisation = rng.choice(organisations).format(
            zone=rng.choice(POLICE_ZONES), city=city, last=last, last2=rng.choice(LAST_NAMES)
        )
        function = rng.choice(functions)
        civility = rng.choice(("madam", "sir")) if function or rng.random() < 0.7 else ""
        requester_name = f"{first[0]}. {last}"
        if kind == "person_concerned" and persons:
            requester_name = f"{persons[0][1] or first} {persons[0][0]}"
        elif kind in ("landlord", "recovery_company") and organisation and rng.random() < 0.5:
            requester_name = organisation
        street = f"{rng.choice(STREETS).capitalize()} {rng.randint(1, 180)}"
        address = f"{street}\n{rng.randint(1000, 6999)} {city}"
        letter_date = received_on - timedelta(days=rng.randint(1, 6))
        deadline = (
            received_on + timedelta(days=rng.randint(10, 30)) if rng.random() < 0.3 else None
        )
        due_on = deadline or self.cal.add_working_days(received_on, self.deadlines.get(kind, 15))
        their_reference = (
            f"{rng.choice(('PV', 'JI', 'NA', 'SAI', 'DOS'))} {year}/{rng.randint(100, 99999)}"
            if rng.random() < 0.85
            else ""
        )
        decide_day = received_on + timedelta(days=10)
        proposal = "refuse"
        if not oral and not inadmissible and rng.random() < disclose_p:
            proposal = "disclose" if rng.random() < 0.55 else "disclose_in_part"
        bases: list[Any] = []
        if not oral and not inadmissible:
            pool = self.bases_for(kind, decide_day, grounding=proposal != "refuse")
            if not pool:
                proposal = "refuse"
                pool = self.bases_for(kind, decide_day, grounding=False) or self.refusing[:1]
            bases = rng.sample(pool, 2 if len(pool) > 1 and rng.random() < 0.15 else 1)
        documents = (
            sorted({doc for b in bases for doc in b.required_documents})
            if proposal != "refuse"
            else []
        )
        if proposal == "refuse" and rng.random() < 0.2:
            documents = [rng.choice(("judge_order", "consent", "witness_summons"))]
        cited = bases[0].letter_citation or bases[0].citation if bases else ""
        if inadmissible:
            # Intake's reasons (services.inadmissibility_reasons): a provision
            # cited, or none at all and no consent attached.
            documents = []
            if "no_legal_provision" not in reasons:
                cite = rng.choice(self.bases_for(kind, decide_day, grounding=True) or self.bases)
                cited = cite.letter_citation or cite.citation
        information = rng.choice(INFORMATION).format(year=received_on.year - rng.randint(0, 3))
        scan, scan_sha = ("", "") if oral else self.scan_pool[pk % len(self.scan_pool)]
        follows = None
        if rng.random() < 0.01 and index > 50:
            follows = rng.randrange(max(1, index - 2000), index) + 1

        letter = {
            "civ": {"madam": "Madame", "sir": "Monsieur"}.get(civility, "Madame, Monsieur"),
            "letter": letter_date.strftime("%d/%m/%Y"),
            "their": their_reference or "-",
            "ref": reference,
            "citation": cited or "la disposition invoquée",
        }
        for last_name, first_names, birth, nn, file_number in persons:
            row: tuple[Any, ...] = (
                self.t_person.new_id(),
                pk,
                last_name,
                first_names,
                birth,
                nn,
                file_number,
            )
            if self.with_search_name and self.person_key is not None:
                row = (*row, self.person_key(last_name, first_names))
            self.t_person.rows.append(row)

        # -- the life
        sec, pres, dg = self.sec, self.pres, self.dg
        state = "received"
        referent = 0
        closed_at: int | None = None
        dispatched_on: date | None = None
        dispatch_channel = mail_number = ""
        withdrawal_reason = annulment_reason = ""
        opinions: list[int] = []  # opinion ids
        current_reply: list[Any] | None = None
        replies: list[list[Any]] = []
        returned = declined = False
        items: list[tuple[str, str, str, Any]] = []
        answers_blocking: list[str] = []
        override_reason = ""
        contested = False

        self.emit(
            us,
            sec,
            "register_request",
            pk,
            "",
            "received",
            {
                "reference": reference,
                "channel": channel,
                "requester_kind": kind,
                "persons": persons_n,
                "scan_sha256": scan_sha,
                "follows": follows,
            },
        )
        us += 1
        if oral:
            state = "closed_oral"
            closed_at = us
            self.emit(us, sec, "close_as_oral", pk, "received", state, {"reference": reference})
        elif inadmissible:
            state = "awaiting_signatures"
            self.emit(
                us,
                sec,
                "declare_inadmissible",
                pk,
                "received",
                state,
                {"reference": reference, "reasons": reasons},
            )
            current_reply = self.reply(pk, us, "inadmissibility", None, [], [], letter)
            replies.append(current_reply)
        else:
            state = "awaiting_assignment"
            self.emit(
                us, sec, "accept_for_examination", pk, "received", state, {"reference": reference}
            )

        def transition(
            actor: int, action: str, to_state: str, details: dict[str, Any] | None = None
        ) -> None:
            nonlocal state
            self.emit(
                us, actor, action, pk, state, to_state, {"reference": reference, **(details or {})}
            )
            state = to_state

        corrected = not oral and rng.random() < 0.005
        while state not in ("closed", "closed_oral", "withdrawn", "annulled"):
            if state == stop_at:
                break
            if fate and state == fate_state:
                if not step(0, 10):
                    break
                if fate == "withdraw":
                    actor = sec if rng.random() < 0.8 else pres
                    withdrawal_reason = rng.choice(WITHDRAWAL_REASONS)
                    closed_at = us
                    transition(actor, "withdraw", "withdrawn", {"reason_code": withdrawal_reason})
                else:
                    annulment_reason = rng.choice(ANNULMENT_REASONS)
                    closed_at = us
                    pending = [r for r in replies if r[9] is None]
                    for r in pending:
                        r[9] = moment(us)
                    transition(
                        dg,
                        "annul",
                        "annulled",
                        {"superseded_reply_ids": sorted(r[0] for r in pending)},
                    )
                break
            if state == "awaiting_assignment":
                if corrected:
                    corrected = False
                    if not step(0, 1):
                        break
                    correction_id = self.t_correction.new_id()
                    old = their_reference or "sans référence"
                    their_reference = letter["their"] = f"{old} bis"
                    self.t_correction.rows.append(
                        (
                            correction_id,
                            pk,
                            sec,
                            moment(us),
                            rng.choice(CORRECTION_REASONS),
                            json.dumps(["requester_reference"]),
                            _canonical({"requester_reference": old}),
                        )
                    )
                    self.emit(
                        us,
                        sec,
                        "correct_registration",
                        pk,
                        "",
                        "",
                        {
                            "reference": reference,
                            "fields": ["requester_reference"],
                            "correction_id": correction_id,
                        },
                    )
                if not step(0, 3):
                    break
                referent = rng.choice(self.referents)
                actor = pres if rng.random() < 0.7 else dg
                transition(
                    actor,
                    "assign_referent",
                    "awaiting_opinion",
                    {"referent_id": referent, "previous_referent_id": None},
                )
                self.referent_of[index] = referent
                self.assigned_us[index] = us
            elif state == "awaiting_opinion":
                if not opinions and rng.random() < 0.02:
                    if not step(0, 3):
                        break
                    previous, referent = (
                        referent,
                        rng.choice([r for r in self.referents if r != referent]),
                    )
                    actor = pres if rng.random() < 0.7 else dg
                    transition(
                        actor,
                        "assign_referent",
                        "awaiting_opinion",
                        {"referent_id": referent, "previous_referent_id": previous},
                    )
                    self.referent_of[index] = referent
                    continue
                if not step(2, 10):
                    break
                opinion_id = self.t_opinion.new_id()
                opinions.append(opinion_id)
                blocking: list[str] = []
                if not items:
                    items = []
                    if proposal != "refuse":
                        for position in range(rng.choices((1, 2, 3), (50, 35, 15))[0]):
                            basis = bases[position % len(bases)]
                            allowed = [
                                c
                                for c in (basis.allowed_data_categories or DEFAULT_CATEGORIES)
                                if c not in basis.excluded_data_categories
                            ] or ["identification"]
                            category = rng.choice(allowed)
                            if any(i[1] == category and i[3] is basis for i in items):
                                continue
                            items.append(
                                (ITEM_TEXT[category], category, rng.choice(NECESSITY), basis)
                            )
                    contested = any(i[3].effect == "contested" for i in items)
                for basis in bases:
                    self.t_opinion_bases.rows.append(
                        (self.t_opinion_bases.new_id(), opinion_id, basis.pk)
                    )
                    for position in range(len(basis.checklist)):
                        answer, note = "met", ""
                        if proposal == "refuse" and rng.random() < 0.5:
                            answer, note = "not_met", "Condition non remplie au vu du dossier."
                        elif proposal != "refuse" and rng.random() < 0.01:
                            answer, note = "not_met", "Pièce manquante au dossier."
                        elif rng.random() < 0.05:
                            answer, note = "not_applicable", "Sans objet pour cette demande."
                        if answer == "not_met":
                            blocking.append(f"unmet:{basis.code}:{position}")
                        self.t_answer.rows.append(
                            (self.t_answer.new_id(), opinion_id, basis.pk, position, answer, note)
                        )
                for position, (description, category, necessity, basis) in enumerate(
                    items, start=1
                ):
                    self.t_opinion_item.rows.append(
                        (
                            self.t_opinion_item.new_id(),
                            opinion_id,
                            position,
                            description,
                            category,
                            necessity,
                            basis.pk,
                        )
                    )
                answers_blocking = blocking
                override_reason = rng.choice(OVERRIDE) if blocking and proposal != "refuse" else ""
                self.t_opinion.rows.append(
                    (
                        opinion_id,
                        pk,
                        len(opinions),
                        referent,
                        proposal,
                        rng.choice(REASONING),
                        False,
                        override_reason,
                        "",
                        moment(us),
                    )
                )
                details: dict[str, Any] = {
                    "opinion_id": opinion_id,
                    "proposal": proposal,
                    "legal_bases": [b.pk for b in bases],
                    "items": len(items),
                }
                if override_reason:
                    details |= self.override_details(blocking, override_reason)
                transition(referent, "submit_opinion", "awaiting_review", details)
            elif state == "awaiting_review":
                if not step(1, 4):
                    break
                opinion_id = opinions[-1]
                review_id = self.t_review.new_id()
                if not returned and not declined and rng.random() < 0.06:
                    returned = True
                    self.t_review.rows.append(
                        (
                            review_id,
                            pk,
                            opinion_id,
                            dg,
                            "returned",
                            rng.choice(REMARKS),
                            "",
                            "",
                            moment(us),
                        )
                    )
                    transition(
                        dg,
                        "return_for_revision",
                        "awaiting_opinion",
                        {"opinion_id": opinion_id, "review_id": review_id},
                    )
                    continue
                refuse = proposal == "refuse" or rng.random() < 0.05
                if refuse:
                    self.t_review.rows.append(
                        (
                            review_id,
                            pk,
                            opinion_id,
                            dg,
                            "refused",
                            rng.choice(REMARKS[2:]),
                            "",
                            "",
                            moment(us),
                        )
                    )
                    transition(
                        dg,
                        "refuse_disclosure",
                        "awaiting_signatures",
                        {"opinion_id": opinion_id, "review_id": review_id},
                    )
                    current_reply = self.reply(pk, us, "refusal", review_id, bases, [], letter)
                else:
                    approved = list(items)
                    outcome = "approved"
                    if rng.random() < 0.08 and len(approved) > 1:
                        approved = approved[:-1]
                        outcome = "amended"
                    dg_override = rng.choice(OVERRIDE) if answers_blocking else ""
                    analysis = rng.choice(ANALYSIS) if contested else ""
                    self.t_review.rows.append(
                        (
                            review_id,
                            pk,
                            opinion_id,
                            dg,
                            outcome,
                            "",
                            dg_override,
                            analysis,
                            moment(us),
                        )
                    )
                    details = {
                        "opinion_id": opinion_id,
                        "review_id": review_id,
                        "outcome": outcome,
                        "items": len(approved),
                    }
                    if dg_override:
                        details |= self.override_details(answers_blocking, dg_override)
                    transition(dg, "approve", "awaiting_signatures", details)
                    current_reply = self.reply(
                        pk, us, "disclosure", review_id, bases, approved, letter
                    )
                replies.append(current_reply)
            elif state == "awaiting_signatures":
                assert current_reply is not None
                if not step(0, 2):
                    break
                self.sign(current_reply, dg, "director_general", us, pk, reference)
                transition(
                    dg,
                    "sign_first",
                    "partially_signed",
                    {"capacity": "director_general", "acting": False},
                )
                self.sign_letter(
                    current_reply, dg, "director_general", us, pk, reference, final=False
                )
            elif state == "partially_signed":
                assert current_reply is not None
                if not step(0, 3):
                    break
                if not declined and opinions and rng.random() < 0.01:
                    declined = True
                    decline_id = self.t_decline.new_id()
                    self.t_decline.rows.append(
                        (
                            decline_id,
                            current_reply[0],
                            pres,
                            "president",
                            rng.choice(DECLINE_REMARKS),
                            moment(us),
                        )
                    )
                    current_reply[9] = moment(us)
                    transition(
                        pres,
                        "decline_to_sign",
                        "awaiting_review",
                        {
                            "reply_id": current_reply[0],
                            "capacity": "president",
                            "acting": False,
                            "signatures_voided": 1,
                            "decline_id": decline_id,
                        },
                    )
                    current_reply = None
                    continue
                self.sign(current_reply, pres, "president", us, pk, reference)
                transition(
                    pres, "sign_second", "signed", {"capacity": "president", "acting": False}
                )
                self.sign_letter(current_reply, pres, "president", us, pk, reference, final=True)
            elif state == "signed":
                if not step(0, 2):
                    break
                roll = rng.random()
                dispatch_channel = (
                    "registered_post"
                    if roll < 0.3
                    else "post"
                    if roll < 0.7
                    else "email"
                    if roll < 0.98
                    else "hand_delivery"
                )
                mail_number = (
                    f"RR{rng.randrange(10**8, 10**9)}BE"
                    if dispatch_channel == "registered_post"
                    else ""
                )
                dispatched_on = local_day(us)
                transition(
                    sec,
                    "record_dispatch",
                    "dispatched",
                    {"channel": dispatch_channel, "dispatched_on": dispatched_on.isoformat()},
                )
            elif state == "dispatched":
                if not step(1, 15):
                    break
                closed_at = us
                transition(sec, "close", "closed")
            else:  # pragma: no cover - every state is handled above
                raise AssertionError(state)

        if referent:
            self.t_permission.rows.append(
                (self.t_permission.new_id(), self.permission_id, referent, pk)
            )
        for reply_row in replies:
            self.note_document(reply_row, state, reply_row is current_reply)
        self.t_request.rows.append(
            (
                pk,
                reference,
                year,
                number,
                received_on,
                channel,
                kind,
                requester_name,
                organisation,
                address,
                their_reference,
                letter_date,
                function,
                civility,
                cited,
                json.dumps(documents),
                information,
                deadline,
                scan,
                "application/pdf" if scan else "",
                scan_sha,
                json.dumps(reasons),
                state,
                referent or None,
                follows,
                dispatched_on,
                dispatch_channel,
                mail_number,
                due_on,
                sec,
                moment(self.reg_us[index]),
                moment(closed_at) if closed_at is not None else None,
                withdrawal_reason,
                annulment_reason,
            )
        )

    def override_details(self, blocking: list[str], reason: str) -> dict[str, Any]:
        return {
            "override": True,
            "overridden": blocking,
            "override_reason_sha256": hashlib.sha256(reason.encode()).hexdigest(),
        }

    def reply(
        self,
        pk: int,
        us: int,
        kind: str,
        review_id: int | None,
        bases: list[Any],
        items: list[tuple[str, str, str, Any]],
        letter: dict[str, str],
    ) -> list[Any]:
        """A reply decided at `us`, with its bases and items; the body from `letter`."""
        reply_id = self.t_reply.new_id()
        body = LETTER_BODY[kind].format(**letter)
        row: list[Any] = [
            reply_id,
            pk,
            kind,
            review_id,
            None,
            body,
            local_day(us),
            moment(us),
            "",
            None,
            None,
            "",
            "",
        ]
        self.t_reply.rows.append(row)
        for basis in bases:
            self.t_reply_bases.rows.append((self.t_reply_bases.new_id(), reply_id, basis.pk))
        for position, (description, category, _, basis) in enumerate(items, start=1):
            self.t_reply_item.rows.append(
                (self.t_reply_item.new_id(), reply_id, position, description, category, basis.pk)
            )
        self.reply_docs[reply_id] = [reply_id, kind, 0, False, us, us]
        return row

    def sign(
        self, reply: list[Any], signer: int, capacity: str, us: int, pk: int, reference: str
    ) -> None:
        signature_id = self.t_signature.new_id()
        self.t_signature.rows.append((signature_id, reply[0], signer, capacity, False, moment(us)))
        doc = self.reply_docs[reply[0]]
        doc[2] += 1
        doc[4] = us
        self._last_signature = signature_id

    def sign_letter(
        self,
        reply: list[Any],
        signer: int,
        capacity: str,
        us: int,
        pk: int,
        reference: str,
        *,
        final: bool,
    ) -> None:
        revision = self.reply_docs[reply[0]][2] + 1
        self.emit(
            us + 1,
            signer,
            "sign_letter",
            pk,
            "",
            "",
            {
                "reference": reference,
                "signature_id": self._last_signature,
                "field": self.field_for[capacity],
                # A stand-in: the real files are signed after the history (see the docstring).
                "pdf_sha256": hashlib.sha256(
                    f"{reference}:{reply[0]}:{revision}".encode()
                ).hexdigest(),
                "pdf_revision": revision,
                "final": final,
            },
        )

    def note_document(self, reply: list[Any], state: str, current: bool) -> None:
        doc = self.reply_docs[reply[0]]
        # Signing replaces the file: a letter still open to a signature gets
        # its own copy of the template.
        doc[3] = current and state in ("awaiting_signatures", "partially_signed")

    # -- the audit trail -------------------------------------------------------------

    def audit_lines(self, total: int, head: tuple[int, str]) -> Iterator[tuple[str, int, str]]:
        """COPY text blocks of the whole chain after `head`: (block, last seq, last hash)."""
        from audit.chain import canonical_text

        rng = random.Random(self.args.seed + 1)
        lifecycle = self.events
        lifecycle.sort(key=lambda e: e[0])
        seq, prev = head
        filler = total - seq - len(lifecycle)
        if filler < 0:
            raise SystemExit(
                f"--events {total} is too few: the requests' lifecycle alone takes "
                f"{len(lifecycle) + seq} events."
            )
        cal = self.cal
        first_wi = cal.on_or_after(self.start)
        last_wi = cal.after(local_day(self.limit_us)) - 1
        days = list(range(first_wi, last_wi + 1))
        # Filler events per day: in proportion to the day's lifecycle events, plus a floor.
        per_day = Counter(bisect.bisect_right(cal.midnight, e[0]) - 1 for e in lifecycle)
        floor = max(1.0, len(lifecycle) / max(1, len(days)) * 0.3)
        weights = [per_day.get(wi, 0) + floor for wi in days]
        scale = filler / sum(weights)
        quotas = [int(w * scale) for w in weights]
        short = filler - sum(quotas)
        for wi in rng.sample(range(len(days)), short) if short <= len(days) else []:
            quotas[wi] += 1
        if sum(quotas) != filler:
            quotas[-1] += filler - sum(quotas)

        personas = [self.pres, self.dg, self.sec, self.auditor, *self.referents]
        persona_weights = [3, 3, 3, 1, *([1.5] * len(self.referents))]
        reg_us = self.reg_us
        references = self.references
        written = self.written
        referent_of = self.referent_of
        assigned_us = self.assigned_us
        sha = hashlib.sha256
        random_ = rng.random
        prefixes: dict[int, str] = {}
        pres, dg, sec = self.pres, self.dg, self.sec
        out: list[str] = []
        append = out.append
        checked = 0
        checked_actions: Counter[str] = Counter()
        position = 0
        n_life = len(lifecycle)
        ip = [f"10.12.{rng.randrange(1, 250)}.{rng.randrange(2, 250)}" for _ in personas]
        ua = [rng.choice(USER_AGENTS) for _ in personas]

        clock = [
            f"{h:02d}:{m:02d}:{s:02d}." for h in range(24) for m in range(60) for s in range(60)
        ]

        def stamp(us: int) -> str:
            day, rest = divmod(us, DAY_US)
            prefix = prefixes.get(day)
            if prefix is None:
                prefix = prefixes[day] = (EPOCH + timedelta(days=day)).strftime("%Y-%m-%dT")
            seconds, micro = divmod(rest, US)
            return f"{prefix}{clock[seconds]}{micro:06d}Z"

        for day_index, wi in enumerate(days):
            start = cal.midnight[wi]
            end = cal.midnight[wi + 1] if wi + 1 < len(cal.midnight) else start + DAY_US
            quota = quotas[day_index]
            times = sorted(
                start + (7 * HOUR + 1800) * US + int(random_() * 11 * HOUR * US)
                for _ in range(quota)
            )
            if times and times[-1] >= self.limit_us:
                times = [min(t, self.limit_us - 1) for t in times]
            visible = bisect.bisect_left(reg_us, start)
            recent = bisect.bisect_left(reg_us, start - 84 * DAY_US)
            merged: list[tuple[int, Any]] = [(t, None) for t in times]
            while position < n_life and lifecycle[position][0] < end:
                merged.append((lifecycle[position][0], lifecycle[position]))
                position += 1
            merged.sort(key=lambda pair: pair[0])
            last_us = 0
            for us, life in merged:
                if us <= last_us:
                    us = last_us + 1
                last_us = us
                if life is not None:
                    _, actor, action, otype, oid, fs, ts, details = life
                else:
                    roll = random_()
                    fs = ts = ""
                    if roll < 0.077 or visible == 0:
                        who = rng.choices(range(len(personas)), persona_weights)[0]
                        actor = personas[who]
                        otype, oid = "session", ""
                        if roll < 0.002:
                            action = "login_failed"
                        elif roll < 0.042 or visible == 0:
                            action = "login"
                        else:
                            action = "logout"
                        details = f'{{"ip":"{ip[who]}","user_agent":"{ua[who]}"}}'
                    elif roll < 0.097:
                        actor = rng.choice((pres, dg, *self.referents))
                        action, otype, oid = "search_content", "register", ""
                        details = f'{{"results":{int(random_() * 40)}}}'
                    elif roll < 0.1:
                        actor = rng.choice(self.referents)
                        action, otype, oid = "refused", "", ""
                        details = '{"attempted":"register_request","cause":"permission_denied"}'
                    else:
                        i = (
                            recent + int(random_() * (visible - recent))
                            if random_() < 0.7 and recent < visible
                            else int(random_() * visible)
                        )
                        otype, oid = "disclosure_request", str(i + 1)
                        pick = random_()
                        referent = referent_of[i] if assigned_us[i] < us else 0
                        if roll < 0.16 and written[i]:
                            action = "read_scan"
                        elif roll < 0.18:
                            action = "read_summary"
                        else:
                            action = "read_request"
                        if action == "read_request" and pick < 0.2:
                            actor, content = sec, "false"
                        elif pick < 0.55 or (pick >= 0.8 and not referent):
                            actor, content = pres, "true"
                        elif pick < 0.8:
                            actor, content = dg, "true"
                        else:
                            actor, content = referent, "true"
                        details = f'{{"content":{content},"reference":"{references[i]}"}}'
                seq += 1
                at = stamp(us)
                actor_json = "null" if actor is None else actor
                text = (
                    f'{{"action":"{action}","actor_id":{actor_json},"details":{details},'
                    f'"from_state":"{fs}","object_id":"{oid}","object_type":"{otype}",'
                    f'"occurred_at":"{at}","prev_hash":"{prev}","seq":{seq},"to_state":"{ts}"}}'
                )
                if (
                    checked < 2000
                    or seq % 50_000 == 0
                    or (life is not None and checked_actions[action] < 50)
                ):
                    checked += 1
                    checked_actions[action] += 1
                    reference_text = canonical_text(
                        seq, at, actor, action, otype, oid, fs, ts, details, prev
                    )
                    if reference_text != text:
                        raise AssertionError(
                            f"canonical form differs at seq {seq}:\n{text}\n{reference_text}"
                        )
                digest = sha(text.encode()).hexdigest()
                append(
                    f"{seq}\t{at}\t{'\\N' if actor is None else actor}\t{action}\t{otype}\t{oid}\t"
                    f"{fs}\t{ts}\t{details}\t{prev}\t{digest}\n"
                )
                prev = digest
                if len(out) >= 20_000:
                    yield "".join(out), seq, prev
                    out.clear()
        if position != n_life:
            raise AssertionError(
                f"{n_life - position} lifecycle events fell outside the working days"
            )
        if out:
            yield "".join(out), seq, prev


# ---------------------------------------------------------------------------
# Setup: catalogue, personas, letterhead, scans


def load_catalogue(at: datetime) -> None:
    """The shipped catalogue, as load_demo and the test world load it.

    Its audit events are dated `at`, before the generated history: a real
    database applied its catalogue before the first opinion cited it, and
    the chain stays in time order. Only the clock `audit.log` reads is moved.
    """
    from unittest import mock

    from legal_basis import releases

    with mock.patch("django.utils.timezone.now", return_value=at):
        releases.load_shipped()


def make_personas(joined: datetime) -> dict[str, Any]:
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import Role, User

    # One real hash of the project's hasher, computed once, for every persona.
    encoded = make_password(PASSWORD)
    specs = [
        ("secretariat", "Sophie", "Lambert", Role.SECRETARIAT),
        ("president", "Marc", "Dubois", Role.PRESIDENT),
        ("dg", "Claire", "Renard", Role.DIRECTOR_GENERAL),
        ("auditor", "Anne", "Collin", Role.AUDITOR),
    ]
    referent_names = [
        ("Julien", "Martin"),
        ("Nadia", "Benali"),
        ("Pierre", "Lefèvre"),
        ("Hélène", "Wéry"),
        ("Thomas", "Peeters"),
        ("Inès", "El-Amrani"),
        ("Luc", "Noël"),
        ("Céline", "Gérard"),
        ("Mehmet", "Yılmaz"),
        ("Zoé", "Dupré"),
    ]
    specs += [
        (f"referent{i:02d}", first, last, Role.REFERENT)
        for i, (first, last) in enumerate(referent_names, start=1)
    ]
    users: dict[str, Any] = {"referents": []}
    for username, first, last, role in specs:
        user = User.objects.create(
            username=username,
            first_name=first,
            last_name=last,
            email=f"{username}@cpas-hautrival.invalid",
            password=encoded,
            date_joined=joined,
        )
        user.groups.add(Group.objects.get(name=role))
        key = hashlib.sha1(f"huisclos-bench-totp:{username}".encode()).hexdigest()
        TOTPDevice.objects.create(user=user, name="authenticator", key=key, confirmed=True)
        if role == Role.REFERENT:
            users["referents"].append(user)
        else:
            users[username] = user
    return users


def fill_letterhead() -> None:
    from letters.models import Letterhead

    letterhead = Letterhead.load()
    # A fictitious centre whose fields pass `missing_fields`, so that letters
    # can be produced under production settings too.
    letterhead.name = "CPAS de Hautrival"
    letterhead.address = "Place communale 1\n5999 Hautrival"
    letterhead.city = "Hautrival"
    letterhead.phone = "081 99 12 34"
    letterhead.email = "secretariat@cpas-hautrival.invalid"
    letterhead.dpo_contact = "dpo@cpas-hautrival.invalid"
    letterhead.save()


def write_scans() -> list[tuple[str, str]]:
    """A small pool of scans every generated written request points at."""
    from django.core.files.base import ContentFile

    from common.storage import private_storage
    from requests_app.models import new_scan_name

    pool = []
    for i in range(SCAN_POOL):
        data = SCAN.replace(b"%%EOF\n", f"%%EOF\n% bench scan {i}\n".encode())
        name = private_storage.save(new_scan_name(None, "scan"), ContentFile(data))  # type: ignore[arg-type]
        pool.append((name, hashlib.sha256(data).hexdigest()))
    return pool


# ---------------------------------------------------------------------------
# Real letters, through the services


def step_up(user: Any) -> str:
    """A code of the persona's authenticator for `sign_reply`'s step-up.

    django-otp accepts each time step once: the device forgets its last step
    first (as the test suite's `fresh_otp` does), since the generator signs
    many letters within one 30-s step.
    """
    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.filter(user=user).update(
        last_t=-1, throttling_failure_count=0, throttling_failure_timestamp=None
    )
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    clock = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{clock.token():0{device.digits}d}"


def real_letters(
    count: int, users: dict[str, Any]
) -> tuple[list[dict[str, Any]], dict[tuple[str, int], int]]:
    """`count` requests signed twice through the services, and the templates.

    Returns the real requests (pk, reference, state, kind, signatures) and,
    per (letter kind, signatures), the pk of a real ReplyDocument to clone.
    """
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command
    from django.utils import timezone

    from legal_basis.models import LegalBasis
    from letters.models import ReplyDocument
    from requests_app import services
    from requests_app.inputs import ChecklistData, IntakeData, ItemData, PersonData

    call_command("make_demo_certificates", out=str(PKI_DIR), stdout=io.StringIO())
    rng = random.Random(7)
    sec, pres, dg = users["secretariat"], users["president"], users["dg"]
    referents = users["referents"]
    today = timezone.localdate()
    in_force = LegalBasis.objects.in_force_on(today)
    ji = in_force.get(code="ji-search-seizure")
    police = in_force.get(code="police-request")

    def answers(basis: Any, answer: str, note: str) -> list[Any]:
        return [ChecklistData(basis, p, answer, note) for p in range(len(basis.checklist))]

    def register(kind: str, i: int) -> Any:
        received = today - timedelta(days=3 + i % 20)
        values: dict[str, Any] = {
            "received_on": received,
            "requester_letter_date": received - timedelta(days=2),
            "channel": "post",
            "requester_kind": "investigating_judge",
            "requester_name": f"A. {rng.choice(LAST_NAMES)}",
            "requester_function": "investigating_judge",
            "requester_civility": rng.choice(("madam", "sir")),
            "requester_organisation": "Tribunal de première instance de Namur",
            "requester_address": "Place du Palais de Justice 5\n5000 Namur",
            "requester_reference": f"JI.NA.{i + 10}/{today.year % 100}",
            "documents": ["judge_order"],
            "cited_provision": ji.letter_citation,
            "information_requested": "Adresse connue et aides octroyées depuis deux ans.",
            "requester_deadline": today + timedelta(days=20),
            "persons": [
                PersonData(
                    rng.choice(LAST_NAMES),
                    rng.choice(FIRST_NAMES),
                    date(1950, 1, 1) + timedelta(days=rng.randrange(20000)),
                )
            ],
        }
        if kind == "refusal":
            values |= {
                "requester_kind": "police",
                "requester_function": "police_commissioner",
                "requester_organisation": "Zone de police Namur Capitale",
                "requester_reference": f"PV {today.year}/{4400 + i}",
                "documents": [],
                "cited_provision": "Loi sur la fonction de police",
            }
        elif kind == "inadmissibility":
            values |= {
                "requester_kind": "recovery_company",
                "requester_name": "Créances Wallonie SA",
                "requester_function": "",
                "requester_organisation": "",
                "documents": [],
                "cited_provision": "",
            }
        scan = SimpleUploadedFile("lettre.pdf", SCAN, content_type="application/pdf")
        return services.register_request(
            IntakeData(**values), actor=sec, scan=scan, scan_content_type="application/pdf"
        )

    def decide(kind: str, i: int) -> Any:
        dr = register(kind, i)
        if kind == "inadmissibility":
            return dr
        referent = referents[i % len(referents)]
        services.assign_referent(dr, actor=pres, referent=referent)
        if kind == "refusal":
            services.submit_opinion(
                dr,
                actor=referent,
                legal_bases=[police],
                proposal="refuse",
                reasoning=REASONING[1],
                items=[],
                checklist=answers(police, "not_met", "Aucune ordonnance ni concertation."),
            )
            services.refuse_disclosure(dr, actor=dg, remarks=REMARKS[2])
        else:
            services.submit_opinion(
                dr,
                actor=referent,
                legal_bases=[ji],
                proposal="disclose_in_part",
                reasoning=REASONING[2],
                items=[
                    ItemData("Adresse connue du CPAS", "address", NECESSITY[1], ji),
                    ItemData("Période d'aide", "aid", NECESSITY[3], ji),
                ],
                checklist=answers(ji, "met", "Vérifié sur l'ordonnance jointe."),
            )
            services.approve(dr, actor=dg)
        return dr

    def sign(dr: Any, signatures: int) -> Any:
        from requests_app.models import DisclosureRequest

        for signer in (dg, pres)[:signatures]:
            dr = DisclosureRequest.objects.get(pk=dr.pk)
            services.sign_reply(dr, actor=signer, otp=step_up(signer))
        return DisclosureRequest.objects.get(pk=dr.pk)

    kinds = ["inadmissibility", "refusal", "disclosure"]
    plan = [
        (
            kinds[i]
            if i < 3
            else "refusal"
            if i < 4
            else "inadmissibility"
            if i < 5
            else "disclosure",
            2,
        )
        for i in range(count)
    ]
    plan += [(kind, signatures) for kind in kinds for signatures in (0, 1)]
    real: list[dict[str, Any]] = []
    templates: dict[tuple[str, int], int] = {}
    for i, (kind, signatures) in enumerate(plan):
        dr = sign(decide(kind, i), signatures)
        if signatures == 2 and kind == "disclosure" and i % 4 == 1:
            services.record_dispatch(
                dr,
                actor=sec,
                dispatched_on=today,
                channel="registered_post",
                registered_mail_number=f"RR{100000000 + i}BE",
            )
            if i % 8 == 1:
                services.close(dr, actor=sec)
            dr.refresh_from_db()
        reply = dr.current_reply()
        document = ReplyDocument.objects.get(reply=reply)
        templates.setdefault((kind, signatures), document.pk)
        real.append(
            {
                "pk": dr.pk,
                "reference": dr.reference,
                "state": dr.state,
                "kind": kind,
                "signatures": signatures,
            }
        )
        print(
            f"   {dr.reference} ({dr.pk}): {kind}, {signatures} signature(s), {dr.state}",
            flush=True,
        )
    return real, templates


def real_files(pks: list[int]) -> list[str]:
    """The stored files of the requests made through the services (for --reset)."""
    from letters.models import ReplyDocument
    from requests_app.models import DisclosureRequest

    scans = DisclosureRequest.objects.filter(pk__in=pks).values_list("scan", flat=True)
    letters = ReplyDocument.objects.filter(reply__request__in=pks).values_list("file", flat=True)
    return [name for name in [*scans, *letters] if name]


def clone_documents(
    gen: Generator, templates: dict[tuple[str, int], int]
) -> tuple[int, list[str]]:
    """A ReplyDocument (and its related rows) per generated reply, from the templates."""
    import uuid

    from django.core.files.base import ContentFile
    from django.db import connection
    from django.db.models import DateTimeField, ForeignKey, JSONField

    from common.storage import private_storage
    from letters.models import ReplyDocument

    meta = ReplyDocument._meta
    doc_fields = [f for f in meta.concrete_fields]
    related = [
        rel.related_model
        for rel in meta.related_objects
        if isinstance(rel.field, ForeignKey) and rel.related_model is not ReplyDocument
    ]
    docs = Rows(ReplyDocument, [f.attname for f in doc_fields])
    docs.next_id = (
        ReplyDocument.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    ) + 1
    related_rows = []
    for model in related:
        fields = list(model._meta.concrete_fields)
        table = Rows(model, [f.attname for f in fields])
        table.next_id = (
            model._default_manager.order_by("-pk").values_list("pk", flat=True).first() or 0
        ) + 1
        link = next(
            f for f in fields if isinstance(f, ForeignKey) and f.related_model is ReplyDocument
        )
        related_rows.append((table, fields, link))
    if related:
        print(f"   cloned with each document: {', '.join(m.__name__ for m in related)}")

    def shape(obj: Any, fields: list[Any], link: Any = None) -> tuple[list[Any], list[Any]]:
        """The template's row, and where each clone puts its own values."""
        row: list[Any] = []
        slots: list[tuple[int, str]] = []
        for position, f in enumerate(fields):
            v = getattr(obj, f.attname)
            if isinstance(f, JSONField):
                v = json.dumps(v)
            elif f.get_internal_type() == "FileField":
                v = v.name if v else ""
            row.append(v)
            if f.primary_key:
                slots.append((position, "id"))
            elif link is not None and f is link:
                slots.append((position, "document"))
            elif link is None and f.attname in ("reply_id", "file"):
                slots.append((position, f.attname))
            elif isinstance(f, DateTimeField):
                slots.append((position, "created" if f.attname == "created_at" else "time"))
        return row, slots

    shapes = {}
    for key, pk in templates.items():
        template = ReplyDocument.objects.get(pk=pk)
        clones = [
            (table, shape(obj, fields, link))
            for table, fields, link in related_rows
            for obj in table.model._default_manager.filter(**{link.attname: pk}).order_by("pk")
        ]
        shapes[key] = (template, shape(template, doc_fields), clones)
    copied: list[str] = []
    contents: dict[int, bytes] = {}
    for reply_id, kind, signatures, own, last_us, created_us in gen.reply_docs.values():
        template, (base, slots), clones = shapes[(kind, signatures)]
        values: dict[str, Any] = {
            "id": docs.new_id(),
            "reply_id": reply_id,
            "file": template.file.name,
            "time": moment(last_us),
            "created": moment(created_us),
        }
        if own:
            data = contents.get(template.pk)
            if data is None:
                data = contents[template.pk] = template.read()
            values["file"] = private_storage.save(
                f"replies/{uuid.uuid4().hex}.pdf", ContentFile(data)
            )
            copied.append(values["file"])
        row = list(base)
        for position, slot in slots:
            row[position] = values[slot]
        docs.rows.append(row)
        values["document"] = values["id"]
        for table, (related_base, related_slots) in clones:
            values["id"] = table.new_id()
            row = list(related_base)
            for position, slot in related_slots:
                row[position] = values[slot]
            table.rows.append(row)
    connection.ensure_connection()
    raw = connection.connection
    tables = [docs.model._meta.db_table, *(t.model._meta.db_table for t, _, _ in related_rows)]
    with raw.transaction(), constraints_deferred(raw, tables):
        count = copy_rows(raw, docs)
        for table, _, _ in related_rows:
            copy_rows(raw, table)
    reset_sequences(raw, [ReplyDocument, *related])
    return count, copied


# ---------------------------------------------------------------------------
# Verification and the page check


def checkpoint_and_verify(directory: Path, key_path: Path) -> str:
    from io import StringIO

    from django.core.management import CommandError, call_command

    from audit import log

    if not key_path.exists():
        log.generate_key(key_path, directory)
    # The head is signed as it stands (audit_checkpoint --no-verify), then
    # verify_audit walks the whole chain once against it: a chain that does
    # not verify fails there, with its first broken seq.
    seq, digest = log.current_head()
    log.sign_checkpoint(log.load_private_key(key_path), seq=seq, hash=digest, directory=directory)
    out = StringIO()
    try:
        call_command("verify_audit", checkpoint_dir=directory, stdout=out)
    except CommandError as error:
        print(out.getvalue())
        sys.exit(f"the generated audit trail does not verify: {error}")
    return out.getvalue().strip()


def check_pages(
    real: list[dict[str, Any]], users: dict[str, Any], seed: int, per_state: int = 2
) -> tuple[int, list[str]]:
    """Every page a sample of each state shows, as each role: no server error."""
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import User
    from requests_app.models import DisclosureRequest, State

    # Each test-client sign-in is logged by django-axes at INFO, and each
    # server error with its traceback: the failures are listed at the end.
    logging.getLogger("axes").setLevel(logging.WARNING)
    logging.getLogger("django.request").setLevel(logging.CRITICAL)
    rng = random.Random(seed)
    real_pks = {r["pk"] for r in real}
    clients: dict[int, Client] = {}

    def client_for(user: Any) -> Client:
        client = clients.get(user.pk)
        if client is None:
            client = clients[user.pk] = Client()
            client.force_login(user)
            session = client.session
            session[DEVICE_ID_SESSION_KEY] = TOTPDevice.objects.get(user=user).persistent_id
            session.save()
        return client

    failures: list[str] = []
    seen = 0

    def get(user: Any, path: str, expected: set[int]) -> None:
        nonlocal seen
        seen += 1
        try:
            status = client_for(user).get(path).status_code
        except Exception as error:  # any exception is the failure reported
            failures.append(f"{user.username} GET {path}: {type(error).__name__}: {error}")
            return
        if status not in expected:
            failures.append(f"{user.username} GET {path}: {status} (expected {sorted(expected)})")

    pres, dg, sec = users["president"], users["dg"], users["secretariat"]
    other = users["referents"][-1]
    for state in State.values:
        pks = list(DisclosureRequest.objects.filter(state=state).values_list("pk", "referent_id"))
        if not pks:
            continue
        sample = [p for p in pks if p[0] in real_pks][:1]
        bulk = [p for p in pks if p[0] not in real_pks]
        sample += rng.sample(bulk, min(per_state, len(bulk)))
        for pk, referent_id in sample:
            path = f"/demandes/{pk}/"
            for user in (pres, dg, sec):
                get(user, path, {200})
            if referent_id:
                get(User.objects.get(pk=referent_id), path, {200})
            if referent_id != other.pk:
                get(other, path, {404})
            if state in ("awaiting_signatures", "partially_signed"):
                for user in (pres, dg):
                    get(user, f"/demandes/{pk}/signer/", {200, 302, 403, 404})
            if state not in ("closed_oral",):
                get(pres, f"/demandes/{pk}/resume/", {200})
    for user in (pres, dg, sec, users["auditor"], *users["referents"][:2]):
        get(user, "/", {200, 302})
        get(user, "/demandes/", {200, 302, 403, 404})
    return seen, failures


# ---------------------------------------------------------------------------
# The command


def table_counts() -> dict[str, int]:
    from django.apps import apps
    from django.db import connection

    counts: dict[str, int] = {}
    with connection.cursor() as cursor:
        for model in apps.get_models(include_auto_created=True):
            if model._meta.app_label not in {
                "requests_app",
                "letters",
                "audit",
                "legal_basis",
                "accounts",
            }:
                continue
            table = model._meta.db_table
            cursor.execute(f'SELECT count(*) FROM "{table}"')
            counts[table] = cursor.fetchone()[0]
    return counts


def describe_existing(name: str, manifest_path: Path) -> None:
    manifest = json.loads(manifest_path.read_text())
    print(f"{name} was generated on {manifest['generated_at']} with {manifest['args']}:")
    print(f"  generation took {manifest['seconds']:.0f} s; states {manifest['states']}")
    print(
        "  real signed letters:",
        [r["pk"] for r in manifest["real_letters"] if r["signatures"] == 2],
    )
    print("  (pass --reset to build it again)")


def check_existing(manifest: dict[str, Any], seed: int, per_state: int) -> None:
    from accounts.models import User

    by_name = {u.username: u for u in User.objects.filter(username__in=manifest["personas"])}
    users: dict[str, Any] = {
        "referents": [by_name[n] for n in sorted(by_name) if n.startswith("referent")],
        **{n: by_name[n] for n in ("secretariat", "president", "dg", "auditor")},
    }
    started = time.perf_counter()
    pages, failures = check_pages(manifest["real_letters"], users, seed, per_state)
    print(
        f"page check: {pages} pages in {time.perf_counter() - started:.1f} s, "
        f"{len(failures)} failure(s)"
    )
    for failure in failures[:30]:
        print(f"   FAIL {failure}")
    if failures:
        sys.exit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--years", type=float, default=8)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument(
        "--letters",
        type=int,
        default=20,
        help="requests signed twice through the services (0: none, and no documents)",
    )
    parser.add_argument("--reset", action="store_true", help="drop the database and rebuild it")
    parser.add_argument("--no-check", action="store_true", help="skip the page check")
    parser.add_argument(
        "--check-sample",
        type=int,
        default=2,
        help="generated requests per state in the page check (plus one real letter)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="on a database already generated with these options: run the page check only",
    )
    args = parser.parse_args()
    if args.requests < 20:
        sys.exit("--requests must be at least 20.")
    if 0 < args.letters < 3:
        sys.exit("--letters is 0 or at least 3 (one per kind of letter).")

    url = os.environ.get("DATABASE_URL", "")
    name = database_name(url)
    directory = generated_dir(name)
    manifest_path = directory / "manifest.json"
    checkpoints = directory / "audit-checkpoints"
    key_path = directory / "audit-signing-key.pem"
    # Settings read at django.setup(): the letters' passphrase and trust root,
    # this database's own checkpoint directory, DEBUG (the page check).
    env = {
        "HUISCLOS_SIGNING_PASSPHRASE": BENCH_SIGNING_PASSPHRASE,
        "HUISCLOS_SIGNING_TRUST_ROOTS": str(PKI_DIR / "ca.pem"),
        "HUISCLOS_AUDIT_CHECKPOINT_DIR": str(checkpoints),
        "HUISCLOS_AUDIT_SIGNING_KEY": str(key_path),
    }
    os.environ.update(env)
    os.environ.setdefault("DJANGO_DEBUG", "true")

    timings: dict[str, tuple[float, float]] = {}
    phase = phase_timer(timings)
    started = time.perf_counter()
    load_before = os.getloadavg()
    if args.reset:
        with phase("reset"):
            # The stored files stay: a copy of the database (createdb -T)
            # points at them too. The manifest lists them.
            drop_database(url)
            shutil.rmtree(directory, ignore_errors=True)
    ensure_database(url)

    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth.models import Permission
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from audit.models import AuditChainHead, AuditEvent
    from requests_app.models import DisclosureRequest, ReferenceCounter

    with phase("migrate"):
        call_command("migrate", verbosity=0)
        call_command("createcachetable", verbosity=0)
    if DisclosureRequest.objects.exists() or AuditEvent.objects.exists():
        if manifest_path.is_file():
            manifest = json.loads(manifest_path.read_text())
            wanted = {
                k: getattr(args, k) for k in ("requests", "events", "years", "seed", "letters")
            }
            if manifest.get("args") == wanted:
                describe_existing(name, manifest_path)
                if args.check:
                    check_existing(manifest, args.seed, args.check_sample)
                return
        sys.exit(f"{name} already holds data not generated with these options: pass --reset.")
    directory.mkdir(parents=True, exist_ok=True)

    now = timezone.now()
    now_us = (now - EPOCH) // timedelta(microseconds=1)
    gen = Generator(args, now_us)
    files: list[str] = []
    with phase("setup: catalogue, personas, letterhead, scans"):
        today = timezone.localdate()
        start = today - timedelta(days=round(365.25 * args.years))
        dawn = datetime(start.year, start.month, start.day, 7, 0, tzinfo=BRUSSELS) - timedelta(
            days=1
        )
        load_catalogue(dawn)
        users = make_personas(dawn)
        fill_letterhead()
        gen.scan_pool = write_scans()
        files += [file_name for file_name, _ in gen.scan_pool]
        permission = Permission.objects.get(
            codename="view_content", content_type__app_label="requests_app"
        )
        gen.setup(users, permission.pk)
    with phase("plan"):
        gen.plan()
        print(f"   {len(gen.events):,} lifecycle events")
    connection.ensure_connection()
    raw = connection.connection
    # The settings' statement timeout (60 s) would cancel a long COPY or index build.
    raw.execute("SET statement_timeout = 0")
    raw.execute("SET synchronous_commit = off")
    raw.execute("SET maintenance_work_mem = '1GB'")
    with phase("copy rows"):
        tables = [t.model._meta.db_table for t in gen.tables]
        with raw.transaction(), constraints_deferred(raw, tables):
            for table in gen.tables:
                copied = copy_rows(raw, table)
                print(f"   {table.model._meta.db_table}: {copied:,}")
            ReferenceCounter.objects.bulk_create(
                [
                    ReferenceCounter(year=y, last_number=n)
                    for y, n in sorted(gen.year_counters.items())
                ]
            )
        reset_sequences(raw, [t.model for t in gen.tables])
    with phase("audit events"):
        head = AuditChainHead.objects.filter(id=1).values_list("seq", "hash").first() or (
            0,
            "0" * 64,
        )
        last_seq, last_hash = head
        with raw.transaction(), constraints_deferred(raw, [AuditEvent._meta.db_table]):
            with (
                raw.cursor() as cursor,
                cursor.copy(
                    "COPY requests_app_auditevent (seq, occurred_at, actor_id, action, "
                    "object_type, object_id, from_state, to_state, details, prev_hash, hash) "
                    "FROM STDIN"
                ) as copy,
            ):
                for block, seq_after, hash_after in gen.audit_lines(args.events, head):
                    copy.write(block)
                    last_seq, last_hash = seq_after, hash_after
            raw.execute(
                "INSERT INTO requests_app_auditchainhead (id, seq, hash) VALUES (1, %s, %s) "
                "ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash",
                [last_seq, last_hash],
            )
        print(f"   chain head at seq {last_seq:,}")
    del gen.events
    real: list[dict[str, Any]] = []
    if args.letters:
        with phase("real letters through the services"):
            real, templates = real_letters(args.letters, users)
            files += real_files([r["pk"] for r in real])
        with phase("documents of the generated replies"):
            documents, copies = clone_documents(gen, templates)
            files += copies
            print(
                f"   {documents:,} documents, {len(copies)} own copies "
                "(letters awaiting a signature)"
            )
    with phase("vacuum analyze"):
        raw.execute("VACUUM ANALYZE")
    with phase("audit checkpoint and verify_audit"):
        verdict = checkpoint_and_verify(checkpoints, key_path)
        print(f"   manage.py verify_audit: {verdict}")
        if not verdict.startswith("OK"):
            sys.exit("verify_audit failed")
    failures: list[str] = []
    if not args.no_check:
        with phase("page check (test client, DEBUG on)"):
            pages, failures = check_pages(real, users, args.seed, args.check_sample)
            print(f"   {pages} pages, {len(failures)} failure(s)")
            for failure in failures[:30]:
                print(f"   FAIL {failure}")
    seconds = time.perf_counter() - started

    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts import services as accounts

    states = dict(
        sorted(Counter(DisclosureRequest.objects.values_list("state", flat=True)).items())
    )
    counts = table_counts()
    personas = {}
    for user in [
        users["secretariat"],
        users["president"],
        users["dg"],
        users["auditor"],
        *users["referents"],
    ]:
        device = TOTPDevice.objects.get(user=user)
        personas[user.username] = {
            "id": user.pk,
            "roles": [g.name for g in user.groups.all()],
            "totp_secret": accounts.totp_secret(device),
        }
    samples = {
        state: list(
            DisclosureRequest.objects.filter(state=state)
            .order_by("?")
            .values_list("pk", flat=True)[:20]
        )
        for state in states
    }
    from requests_app.queries import overdue

    manifest = {
        "database": name,
        "args": {k: getattr(args, k) for k in ("requests", "events", "years", "seed", "letters")},
        "generated_at": now.isoformat(),
        "seconds": round(seconds, 1),
        "timings": {k: [round(wall, 2), round(cpu, 2)] for k, (wall, cpu) in timings.items()},
        "load_average": [round(x, 2) for x in (*load_before, *os.getloadavg())],
        "states": states,
        "overdue": DisclosureRequest.objects.filter(overdue()).count(),
        "counts": counts,
        "password": PASSWORD,
        "personas": personas,
        "real_letters": real,
        "samples": samples,
        "env": env,
        "private_root": str(settings.PRIVATE_STORAGE_ROOT),
        "files": files,
    }
    manifest_path.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")

    print()
    print(
        f"database {name}: generated in {seconds:.0f} s "
        f"(load average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after)"
    )
    for label, (wall, cpu) in timings.items():
        print(f"  {label:<45} {wall:7.1f} s  (CPU here {cpu:6.1f} s)")
    print("rows:")
    for db_table, value in counts.items():
        if value:
            print(f"  {db_table:<50} {value:>10,}")
    print(f"states: {states}")
    print(f"open and overdue: {manifest['overdue']}")
    print(f"personas (password {PASSWORD!r}, TOTP base32 key):")
    for username, persona in personas.items():
        print(
            f"  {username:<12} id {persona['id']:<3} {persona['totp_secret']}  "
            + ", ".join(persona["roles"])
        )
    signed = [r["pk"] for r in real if r["signatures"] == 2]
    print(f"requests with a real signed letter: {signed}")
    print(f"manifest: {manifest_path}")
    print(
        f"verify: HUISCLOS_AUDIT_CHECKPOINT_DIR={checkpoints} DATABASE_URL={url} "
        "DJANGO_DEBUG=true .venv/bin/python manage.py verify_audit"
    )
    if failures:
        sys.exit(f"{len(failures)} page(s) failed the check")


if __name__ == "__main__":
    main()
