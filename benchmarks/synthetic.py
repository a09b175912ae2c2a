"""A reproducible synthetic corpus shaped like the regulations Regula indexes.

Documents are Markdown with the front-matter the loaders read (title, number, date, language,
source), a preamble, and articles with numbered paragraphs in six languages (en fr es de pt id),
each built from per-language phrase tables: an authority, an obligation, an object, a
deadline, a triggering event. The same seed gives the same corpus, byte for byte.

    python benchmarks/synthetic.py OUT_DIR --documents 100 --seed 7
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

GENERATOR_VERSION = "1"
LANGUAGES = ("en", "fr", "es", "de", "pt", "id")


@dataclass(frozen=True)
class Phrases:
    article: str  # heading word: "Article {n}"
    directive: str
    on: str
    topics: tuple[str, ...]
    authorities: tuple[str, ...]
    verbs: tuple[str, ...]
    objects: tuple[str, ...]
    events: tuple[str, ...]
    sentence: str  # "{authority} {verb} {object} {deadline} {event}."
    deadline: str  # "within {days} days"
    extra: tuple[str, ...]


PHRASES: dict[str, Phrases] = {
    "en": Phrases(
        "Article {n}", "Directive", "on",
        ("the handling of petitions", "asset declarations", "public procurement audits",
         "the registration of complaints", "inspection reports", "conflicts of interest"),
        ("The inspector", "The head of the regional office", "The registry service",
         "The competent authority", "The audit committee", "The reporting official"),
        ("shall register", "shall examine", "shall forward", "shall sign", "shall publish",
         "shall archive"),
        ("the petition", "the inspection report", "the declaration of assets",
         "the complaint file", "the audit plan", "the written notice", "the decision",
         "the list of gifts"),
        ("of its receipt", "of the end of the inspection", "of the request",
         "of the appointment", "of the hearing"),
        "{authority} {verb} {object} {deadline} {event}.",
        "within {days} days",
        ("A copy is kept in register {code}.", "The form {code} is used for this purpose.",
         "The amount shall not exceed {amount} VLD.", "Any delay shall be justified in writing."),
    ),
    "fr": Phrases(
        "Article {n}", "Directive", "relative à",
        ("le traitement des pétitions", "les déclarations de patrimoine",
         "les audits des marchés publics", "l'enregistrement des plaintes",
         "les rapports d'inspection", "les conflits d'intérêts"),
        ("L'inspecteur", "Le chef du bureau régional", "Le service du registre",
         "L'autorité compétente", "Le comité d'audit", "L'agent déclarant"),
        ("enregistre", "examine", "transmet", "signe", "publie", "archive"),
        ("la pétition", "le rapport d'inspection", "la déclaration de patrimoine",
         "le dossier de plainte", "le plan d'audit", "la notification écrite", "la décision",
         "la liste des cadeaux"),
        ("de sa réception", "de la fin de l'inspection", "de la demande", "de la nomination",
         "de l'audition"),
        "{authority} {verb} {object} {deadline} {event}.",
        "dans un délai de {days} jours",
        ("Une copie est conservée au registre {code}.", "Le formulaire {code} est utilisé.",
         "Le montant ne peut excéder {amount} VLD.", "Tout retard est justifié par écrit."),
    ),
    "es": Phrases(
        "Artículo {n}", "Directiva", "sobre",
        ("la tramitación de peticiones", "las declaraciones de bienes",
         "las auditorías de contratación pública", "el registro de quejas",
         "los informes de inspección", "los conflictos de intereses"),
        ("El inspector", "El jefe de la oficina regional", "El servicio de registro",
         "La autoridad competente", "El comité de auditoría", "El funcionario declarante"),
        ("registrará", "examinará", "remitirá", "firmará", "publicará", "archivará"),
        ("la petición", "el informe de inspección", "la declaración de bienes",
         "el expediente de queja", "el plan de auditoría", "la notificación escrita",
         "la decisión", "la lista de regalos"),
        ("de su recepción", "del fin de la inspección", "de la solicitud",
         "del nombramiento", "de la audiencia"),
        "{authority} {verb} {object} {deadline} {event}.",
        "en un plazo de {days} días",
        ("Se conserva una copia en el registro {code}.", "Se utiliza el formulario {code}.",
         "El importe no excederá de {amount} VLD.", "Todo retraso se justificará por escrito."),
    ),
    "de": Phrases(
        "Artikel {n}", "Richtlinie", "über",
        ("die Bearbeitung von Petitionen", "Vermögenserklärungen",
         "Prüfungen öffentlicher Aufträge", "die Registrierung von Beschwerden",
         "Prüfberichte", "Interessenkonflikte"),
        ("Der Inspektor", "Der Leiter des Regionalbüros", "Die Registerstelle",
         "Die zuständige Behörde", "Der Prüfungsausschuss", "Der meldende Beamte"),
        ("registriert", "prüft", "übermittelt", "unterzeichnet", "veröffentlicht",
         "archiviert"),
        ("die Petition", "den Prüfbericht", "die Vermögenserklärung", "die Beschwerdeakte",
         "den Prüfplan", "die schriftliche Mitteilung", "die Entscheidung",
         "die Liste der Geschenke"),
        ("nach ihrem Eingang", "nach Ende der Prüfung", "nach dem Antrag",
         "nach der Ernennung", "nach der Anhörung"),
        "{authority} {verb} {object} {deadline} {event}.",
        "innerhalb von {days} Tagen",
        ("Eine Kopie wird im Register {code} aufbewahrt.", "Es wird das Formular {code} verwendet.",
         "Der Betrag darf {amount} VLD nicht übersteigen.",
         "Jede Verzögerung ist schriftlich zu begründen."),
    ),
    "pt": Phrases(
        "Artigo {n}", "Diretiva", "relativa a",
        ("tramitação de petições", "declarações de bens", "auditorias de contratos públicos",
         "registo de queixas", "relatórios de inspeção", "conflitos de interesses"),
        ("O inspetor", "O chefe do gabinete regional", "O serviço de registo",
         "A autoridade competente", "O comité de auditoria", "O funcionário declarante"),
        ("regista", "examina", "remete", "assina", "publica", "arquiva"),
        ("a petição", "o relatório de inspeção", "a declaração de bens", "o processo de queixa",
         "o plano de auditoria", "a notificação escrita", "a decisão", "a lista de presentes"),
        ("da sua receção", "do fim da inspeção", "do pedido", "da nomeação", "da audiência"),
        "{authority} {verb} {object} {deadline} {event}.",
        "no prazo de {days} dias",
        ("É conservada uma cópia no registo {code}.", "É utilizado o formulário {code}.",
         "O montante não pode exceder {amount} VLD.", "Qualquer atraso é justificado por escrito."),
    ),
    "id": Phrases(
        "Pasal {n}", "Peraturan", "tentang",
        ("penanganan petisi", "laporan harta kekayaan", "audit pengadaan publik",
         "pendaftaran pengaduan", "laporan inspeksi", "benturan kepentingan"),
        ("Inspektur", "Kepala kantor wilayah", "Bagian registrasi", "Otoritas yang berwenang",
         "Komite audit", "Pejabat pelapor"),
        ("wajib mendaftarkan", "wajib memeriksa", "wajib meneruskan", "wajib menandatangani",
         "wajib mengumumkan", "wajib mengarsipkan"),
        ("petisi", "laporan inspeksi", "laporan harta kekayaan", "berkas pengaduan",
         "rencana audit", "pemberitahuan tertulis", "keputusan", "daftar hadiah"),
        ("sejak diterima", "sejak inspeksi berakhir", "sejak permohonan",
         "sejak pengangkatan", "sejak sidang"),
        "{authority} {verb} {object} {deadline} {event}.",
        "paling lambat {days} hari",
        ("Salinan disimpan dalam register {code}.", "Formulir {code} digunakan untuk itu.",
         "Jumlahnya tidak boleh melebihi {amount} VLD.",
         "Setiap keterlambatan wajib dijelaskan secara tertulis."),
    ),
}  # fmt: skip

# Questions over the synthetic topics, in the corpus languages plus one they lack (vi).
QUESTIONS = (
    "Within how many days must the inspector register the petition?",
    "Who signs the inspection report?",
    "What is the deadline for the declaration of assets after the appointment?",
    "Dans quel délai le service du registre transmet-il le dossier de plainte ?",
    "¿Quién firmará la decisión tras la audiencia?",
    "Innerhalb welcher Frist veröffentlicht die Behörde den Prüfplan?",
    "Qual é o prazo para arquivar a lista de presentes?",
    "Berapa hari batas waktu untuk meneruskan berkas pengaduan?",
    "Where is a copy of the written notice kept?",
    "What is the maximum amount for gifts?",
    "Thanh tra phải đăng ký đơn kiến nghị trong bao nhiêu ngày?",
    "Which form is used for the audit plan?",
)


@dataclass(frozen=True)
class SyntheticDocument:
    doc_id: str
    language: str
    text: str


def _paragraph(rng: random.Random, phrases: Phrases, n: int) -> str:
    sentence = phrases.sentence.format(
        authority=rng.choice(phrases.authorities),
        verb=rng.choice(phrases.verbs),
        object=rng.choice(phrases.objects),
        deadline=phrases.deadline.format(days=rng.choice((3, 5, 7, 10, 15, 30, 45, 60, 90))),
        event=rng.choice(phrases.events),
    )
    extra = rng.choice(phrases.extra).format(
        code=f"{rng.choice('ABCDEFGHKMPRST')}-{rng.randint(1, 99)}",
        amount=f"{rng.randint(1, 50) * 100:,}",
    )
    return f"{n}. {sentence} {extra}"


def document(
    seed: int, index: int, articles: int = 10, language: str | None = None
) -> SyntheticDocument:
    """The ``index``-th document of the corpus ``seed``: same arguments, same text."""
    rng = random.Random(f"{seed}:{index}")
    language = language or LANGUAGES[index % len(LANGUAGES)]
    phrases = PHRASES[language]
    topic = rng.choice(phrases.topics)
    number = f"SY-{2000 + index // 1000}/{index % 1000:03d}"
    date = f"20{rng.randint(10, 25)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    title = f"{phrases.directive} {number} {phrases.on} {topic}"
    lines = [
        "---",
        f'title: "{title}"',
        f'number: "{number}-{language}"',
        f'date: "{date}"',
        f"language: {language}",
        f'source: "https://lex.valdoria.example/synthetic/{index}/{language}"',
        "---",
        "",
        f"# {title}",
        "",
    ]
    for n in range(1, articles + 1):
        lines.append(f"### {phrases.article.format(n=n)} — {rng.choice(phrases.objects)}")
        lines.append("")
        lines.extend(_paragraph(rng, phrases, p) for p in range(1, rng.randint(3, 5) + 1))
        lines.append("")
    return SyntheticDocument(
        f"synthetic-{seed}-{index:06d}.{language}.md", language, "\n".join(lines)
    )


def documents(seed: int, count: int, articles: int = 10) -> Iterator[SyntheticDocument]:
    for index in range(count):
        yield document(seed, index, articles)


def write_corpus(out: Path, seed: int, count: int, articles: int = 10) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for doc in documents(seed, count, articles):
        path = out / doc.doc_id
        path.write_text(doc.text, encoding="utf-8")
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--documents", type=int, default=100)
    parser.add_argument("--articles", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    paths = write_corpus(args.out, args.seed, args.documents, args.articles)
    print(f"wrote {len(paths)} documents to {args.out}")


if __name__ == "__main__":
    main()
