"""Checking a generated answer against its passages: pure functions, no models, no stores.

A language model may cite a passage that does not exist, cite one that says something else,
or invent a number. Nothing it writes is trusted: the answer is split into claims (sentences),
each claim keeps only markers that point at a supplied passage, and a claim survives only if
every number in it appears in a cited passage and its words overlap the passage enough (or,
across languages, its meaning is close enough, as measured by a similarity the caller
supplies). Claims without a surviving citation are dropped.

``declines`` is the pattern check run on a question before any model sees it: requests for
the system prompt or for the whole corpus are refused with a fixed message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from retrieval.answer.citations import MARKER
from retrieval.language import normalize_digits
from retrieval.tokens import tokenize

_MARKER_RE = re.compile(r"\s*" + MARKER)
_CLAIM_BOUNDARY = re.compile(r"(?<=[.!?؟。])\s+|\n+")
_LEADING_MARKERS = re.compile(r"^(?:\s*" + MARKER + r")+[.,;]?")
_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*")
_LIST_PREFIX = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+")
MIN_CLAIM_CHARS = 12

# Requests to reveal instructions or dump the corpus, in the prompt languages. Deliberately
# simple: it catches the common phrasings; anything else still meets verification.
_INJECTION_PATTERNS = [
    # en
    r"ignore (?:all |any |the |your )?(?:previous|prior|above|earlier)? ?(?:instructions|rules)",
    r"(?:print|show|reveal|repeat|tell me|output|display|give me) (?:me )?(?:your|the) "
    r"(?:system )?(?:prompt|instructions)",
    r"system prompt",
    r"(?:list|print|dump|output|reproduce|give me) (?:all|every|the whole|the entire) "
    r"(?:of the )?(?:documents?|corpus|passages|texts?)",
    r"\bverbatim\b.*\b(?:all|every|entire|whole)\b|\b(?:all|every|entire|whole)\b.*\bverbatim\b",
    # fr
    r"ignore[rz]? (?:les |tes |vos )?(?:instructions|consignes)",
    r"(?:affiche|montre|révèle|répète)[rz]? (?:ton|votre|le) (?:prompt|invite|instructions)",
    r"tous les documents",
    # es / pt
    r"ignora[r]? (?:las |tus |as |suas )?(?:instrucciones|instruções|instrucoes)",
    r"(?:muestra|mostra|revela|imprime)r? (?:tus?|el|las|o|as|seu|suas) "
    r"(?:prompt|instrucciones|instruções)",
    r"todos los documentos|todos os documentos",
    # de
    r"ignorier(?:e|en)? (?:alle |deine |die |vorherigen )*(?:anweisungen|instruktionen)",
    r"(?:zeige|gib|verrate) (?:mir )?(?:deinen|den) (?:system)?prompt",
    r"alle dokumente",
    # pl
    r"zignoruj (?:wszystkie |poprzednie )*(?:instrukcje|polecenia)",
    r"(?:pokaż|wypisz|ujawnij) (?:swój |twój )?(?:prompt|instrukcje)",
    r"wszystkie dokumenty",
    # id
    r"abaikan (?:semua )?(?:instruksi|perintah)",
    r"(?:tampilkan|tunjukkan|cetak) (?:prompt|instruksi) (?:sistem|anda|kamu)",
    r"semua dokumen",
    # vi
    r"bỏ qua (?:các |mọi )?(?:hướng dẫn|chỉ dẫn|lệnh)",
    r"(?:hiển thị|in ra|tiết lộ) (?:lời nhắc|prompt|hướng dẫn)",
    r"tất cả (?:các )?tài liệu",
    # ru
    r"игнорируй|проигнорируй|забудь (?:все )?(?:инструкции|указания)",
    r"(?:покажи|выведи|раскрой) (?:свой |системный )*(?:промпт|инструкции)",
    r"все документы",
    # ar
    r"تجاهل (?:جميع |كل )?(?:التعليمات|الأوامر)",
    r"(?:اعرض|أظهر|اطبع|اكشف) (?:لي )?(?:التعليمات|موجه النظام|الموجه)",
    r"جميع الوثائق|كل الوثائق|جميع المستندات",
]
_INJECTION_RE = re.compile("|".join(f"(?:{p})" for p in _INJECTION_PATTERNS), re.IGNORECASE)


def declines(question: str) -> bool:
    """True when ``question`` asks for the instructions or the whole corpus."""
    return bool(_INJECTION_RE.search(" ".join(question.split())))


@dataclass(frozen=True)
class Source:
    """What verification needs of a passage: its text, language and locator."""

    text: str
    language: str
    locator: str = ""


@dataclass
class Claim:
    """One sentence of a generated answer; ``cited`` are passage numbers (1-based)."""

    text: str
    cited: list[int] = field(default_factory=list)
    kept: bool = False
    reason: str = ""


@dataclass
class Verification:
    """The outcome: claims in order, how many were kept, markers that pointed nowhere."""

    claims: list[Claim]
    unknown_markers: int = 0

    @property
    def kept(self) -> list[Claim]:
        return [c for c in self.claims if c.kept]

    def cited(self) -> list[int]:
        """Passage numbers cited by kept claims, in order of first appearance."""
        seen: dict[int, None] = {}
        for claim in self.kept:
            seen.update(dict.fromkeys(claim.cited))
        return list(seen)

    def counts(self) -> dict[str, int]:
        return {
            "claims": len(self.claims),
            "kept": len(self.kept),
            "unknown_markers": self.unknown_markers,
        }


def split_claims(answer: str) -> list[tuple[str, list[int]]]:
    """Sentences of ``answer`` with the markers each carries, markers removed from the text.

    A marker placed after the full stop ("… 30 days. [1]") belongs to the sentence before it.
    """
    pieces = [p.strip() for p in _CLAIM_BOUNDARY.split(answer) if p.strip()]
    merged: list[str] = []
    for piece in pieces:
        lead = _LEADING_MARKERS.match(piece)
        if lead and merged:
            merged[-1] += " " + lead.group(0).strip().rstrip(".,;")
            piece = piece[lead.end() :].strip()
        if piece:
            merged.append(piece)
    claims = []
    for piece in merged:
        cited = [int(n) for n in _MARKER_RE.findall(piece)]
        text = _LIST_PREFIX.sub("", _MARKER_RE.sub("", piece)).strip()
        text = re.sub(r"\s+([.,;:!?])", r"\1", text)
        if text:
            claims.append((text, list(dict.fromkeys(cited))))
    return claims


def settled_length(text: str) -> int:
    """How much of a partly written ``text`` is complete claims: up to its last claim boundary.

    A claim is complete once whitespace follows its full stop (or a line ends), 0 before that.
    Markers the writer puts after that space ("… 30 days. [1]") still join the claim later.
    """
    end = 0
    for boundary in _CLAIM_BOUNDARY.finditer(text):
        end = boundary.start()
    return end


def numbers_in(text: str) -> set[str]:
    """Numbers written in ``text``, digits normalised ("٣٠" -> "30"), separators kept."""
    return {n.rstrip(".,") for n in _NUMBER_RE.findall(normalize_digits(text))}


def overlap(claim: str, claim_language: str, source: Source) -> float:
    """Share of the claim's content tokens (stems, numbers) found in the passage."""
    tokens = {t for t in tokenize(claim, claim_language) if len(t) > 2 or t.isdigit()}
    if not tokens:
        return 0.0
    found = set(tokenize(source.text, source.language)) | set(tokenize(source.text, claim_language))
    return len(tokens & found) / len(tokens)


def verify(
    answer: str,
    sources: Sequence[Source],
    language: str,
    similarity: Callable[[str, int], float] | None = None,
    *,
    min_overlap: float = 0.5,
    min_similarity: float = 0.92,
) -> Verification:
    """Split ``answer`` into claims and keep only those their cited passages support.

    ``similarity(claim, n)`` is the semantic closeness of a claim to passage ``n`` (1-based);
    it lets a claim in the asker's language stand on a passage in another language, where
    word overlap says nothing. It is not consulted for a passage in the claim's language:
    there the words must match, since neighbouring articles of one directive are semantically
    close enough to pass for each other. Numbers are checked literally in every case.
    """
    claims: list[Claim] = []
    unknown = 0
    for text, cited in split_claims(answer):
        valid = [n for n in cited if 1 <= n <= len(sources)]
        unknown += len(cited) - len(valid)
        claim = Claim(text)
        claims.append(claim)
        if not valid:
            claim.reason = "no citation"
            continue
        if len(text) < MIN_CLAIM_CHARS:
            claim.reason = "too short"
            continue
        passages = [sources[n - 1] for n in valid]
        available = set().union(*(numbers_in(f"{s.text} {s.locator}") for s in passages))
        if not numbers_in(text) <= available:
            claim.reason = "number not in cited passage"
            continue
        supporting = [
            n
            for n in valid
            if overlap(text, language, sources[n - 1]) >= min_overlap
            or (
                similarity is not None
                and sources[n - 1].language != language
                and similarity(text, n) >= min_similarity
            )
        ]
        if not supporting:
            claim.reason = "not supported by cited passage"
            continue
        claim.cited = supporting
        claim.kept = True
    return Verification(claims, unknown)


def render(verification: Verification) -> tuple[str, dict[int, int]]:
    """The kept claims, re-numbered 1..m in order of first citation, and the old->new map."""
    numbering = {old: new for new, old in enumerate(verification.cited(), start=1)}
    lines = []
    for claim in verification.kept:
        marks = "".join(f"[{numbering[n]}]" for n in claim.cited)
        text = claim.text
        end = text[-1] if text[-1] in ".!?؟。" else ""
        body = text[: -len(end)] if end else text
        lines.append(f"{body} {marks}{end}")
    return "\n".join(lines), numbering
