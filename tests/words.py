"""The words people read: no code, no English, Belgian dates and times.

Shared by the page checks (tests/browser/test_every_page.py) and the letter
checks (tests/letters/test_letter_words.py).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings

BRUSSELS = ZoneInfo("Europe/Brussels")
PO = Path(settings.BASE_DIR) / "locale" / "fr" / "LC_MESSAGES" / "django.po"

SNAKE_CASE = re.compile(r"\b[a-z0-9]+(?:_[a-z0-9]+)+\b|\b[A-Z0-9]+(?:_[A-Z0-9]+)+\b")
# "SigDirector", "awaitingReview": identifiers, never French words or names
# of the seeded data.
CAMEL_CASE = re.compile(r"\b[A-Z]?[a-z]+(?:[A-Z][a-z]+)+\b")
# The only identifiers that are data: a case-law document's number, as the
# catalogue cites it ("doc. jlmb2013_40p2034").
TRUE_IDENTIFIERS = {"jlmb2013_40p2034"}
# Words of English that French interface text never contains (nor the Dutch
# of the catalogue's sources: "is", "of", "was" are left out). Case matters
# for the ones that are French words or names in another case.
ENGLISH_WORDS = re.compile(
    r"(?<![\w.@/-])(?:the|The|and|with|With|not|Not|this|This|that|your|Your|you|You|are|"
    r"has|have|been|should|must|cannot|which|Which|who|when|When|there|their|from|From|"
    r"by|to|To|its|It's|it|into|than|then|only|each|every|any|yet|please|Please|of the|"
    r"Request|Requests|Reply|Replies|Draft|Signed|Sign|Review|Approve|Submit|Cancel|Save|"
    r"Search|Back|Next|Previous|Download|Delete|Edit|Yes|Received|Withdrawn|Annulled|"
    r"Dispatched|Waiting|Pending|Error|Warning|Required|Optional|Details|None|True|False|"
    r"Page \d+ of|Common Name|Organization|Country|Unknown|unknown|Home|Log out|Sign in)"
    r"(?![\w@/-])"
)
# ISO dates and times; a date inside a code ("bcss-l-1990-01-15", a legal
# basis of the catalogue named after its law's date) is part of the code.
ISO_DATE = re.compile(
    r"(?<![\w-])\d{4}-\d{2}-\d{2}(?![\w-])|\b\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})"
)
TIME_ZONE_WORDS = re.compile(r"\b(?:UTC|GMT|CET|CEST|AM|PM|a\.m\.|p\.m\.)(?![\w.])")
ENGLISH_CALENDAR = re.compile(
    r"\b(?:January|February|March|April|June|July|August|September|October|November|"
    r"December|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b"
)
CLOCK = re.compile(r"\b([01]\d|2[0-3])[:h]([0-5]\d)\b")


@cache
def catalogue_phrases() -> tuple[frozenset[str], str]:
    """English phrases of two words or more that the catalogue translates
    differently, and every French translation (to leave out phrases that are
    French too)."""
    entries: list[tuple[str, str]] = []
    for block in PO.read_text(encoding="utf-8").split("\n\n"):
        fields: dict[str, str] = {}
        keyword = ""
        for line in block.splitlines():
            if line.startswith("#"):
                continue
            match = re.match(r'^(msgctxt|msgid|msgid_plural|msgstr(?:\[\d\])?) "(.*)"$', line)
            if match:
                keyword = match.group(1)
                fields[keyword] = match.group(2)
            elif line.startswith('"') and keyword:
                fields[keyword] += line[1:-1]
        french = " ".join(v for k, v in fields.items() if k.startswith("msgstr"))
        for key in ("msgid", "msgid_plural"):
            if fields.get(key) and french and fields[key] != french:
                entries.append((fields[key], french))
    all_french = "\n".join(french for _, french in entries).lower()
    phrases = set()
    for english, _ in entries:
        text = english.replace('\\"', '"').replace("\\n", " ")
        for fragment in re.split(r"%\(\w+\)[sd]|%[sd]|<[^>]+>|\{[^}]*\}|[\n:;()«»\"]", text):
            fragment = " ".join(fragment.split()).strip(" .,–-")
            words = re.findall(r"[A-Za-z']+", fragment)
            if (
                len(words) >= 2
                and len(fragment) >= 8
                and fragment.isascii()
                and fragment.lower() not in all_french
            ):
                phrases.add(fragment)
    return frozenset(phrases), all_french


def english_phrases(text: str) -> list[str]:
    phrases, _ = catalogue_phrases()
    found = []
    for phrase in phrases:
        if phrase in text and re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text):
            found.append(phrase)
    return sorted(found)


def _context(text: str, start: int, end: int) -> str:
    return " ".join(text[max(0, start - 30) : end + 30].split())


class Clock:
    """When the data was made: a time of day in that window on the UTC clock,
    outside it on the Brussels clock, is a UTC time shown as is."""

    def __init__(self) -> None:
        self.start = datetime.now(UTC) - timedelta(minutes=1)
        self.end = self.start

    def stop(self) -> None:
        self.end = datetime.now(UTC) + timedelta(minutes=1)

    @staticmethod
    def _minutes(moment: datetime) -> int:
        return moment.hour * 60 + moment.minute

    def _within(self, minute: int, start: datetime, end: datetime) -> bool:
        a, b = self._minutes(start), self._minutes(end)
        return a <= minute <= b if a <= b else (minute >= a or minute <= b)

    def utc_only(self, minute: int) -> bool:
        local = self.start.astimezone(BRUSSELS), self.end.astimezone(BRUSSELS)
        return self._within(minute, self.start, self.end) and not self._within(minute, *local)


def words_problems(text: str, clock: Clock | None = None) -> list[str]:
    """What is wrong in a text shown to people (pages and letters alike)."""
    problems = []
    for pattern, what in (
        (SNAKE_CASE, "code"),
        (CAMEL_CASE, "identifiant"),
        (ENGLISH_WORDS, "anglais"),
        (ISO_DATE, "date ISO"),
        (TIME_ZONE_WORDS, "fuseau ou format horaire anglais"),
        (ENGLISH_CALENDAR, "mois ou jour en anglais"),
    ):
        seen = set(TRUE_IDENTIFIERS)
        for match in pattern.finditer(text):
            if match.group(0) in seen:
                continue
            seen.add(match.group(0))
            problems.append(f"{what}: {match.group(0)!r} dans « {_context(text, *match.span())} »")
    for phrase in english_phrases(text):
        problems.append(f"texte non traduit: {phrase!r}")
    if clock is not None:
        for match in CLOCK.finditer(text):
            minute = int(match.group(1)) * 60 + int(match.group(2))
            if clock.utc_only(minute):
                problems.append(
                    f"heure UTC plutôt que de Bruxelles: {match.group(0)!r} dans "
                    f"« {_context(text, *match.span())} »"
                )
    return problems
