"""Language detection on one-line questions, and digit normalisation."""

from __future__ import annotations

import pytest

from retrieval.language import detect_language, normalize_digits

CANDIDATES = [
    "en", "fr", "de", "es", "it", "pt", "nl", "pl", "ru", "uk", "ar", "fa", "tr", "id", "vi",
    "zh", "ja", "ko", "th", "hi", "ro", "cs", "sv",
]  # fmt: skip

QUESTIONS = {
    "en": [
        "Within how many days must a petition be answered?",
        "Who signs the decision on a building permit?",
        "What is the deadline for filing an appeal?",
        "Can an official refuse to register a complaint?",
        "Which authority issues residence permits?",
        "How long are personal records kept?",
    ],
    "fr": [
        "Dans quel délai faut-il répondre à une pétition ?",
        "Qui signe la décision relative au permis de construire ?",
        "Quel est le délai pour faire appel ?",
        "Un fonctionnaire peut-il refuser d'enregistrer une plainte ?",
        "Quelle autorité délivre les titres de séjour ?",
        "Combien de temps les dossiers personnels sont-ils conservés ?",
    ],
    "es": [
        "¿En cuántos días debe responderse una petición?",
        "¿Quién firma la resolución sobre la licencia de obra?",
        "¿Cuál es el plazo para presentar un recurso?",
        "¿Puede un funcionario negarse a registrar una queja?",
        "¿Qué autoridad expide los permisos de residencia?",
        "¿Cuánto tiempo se conservan los expedientes personales?",
    ],
    "de": [
        "Innerhalb welcher Frist muss eine Petition beantwortet werden?",
        "Wer unterschreibt den Bescheid über die Baugenehmigung?",
        "Wie lange ist die Frist für einen Widerspruch?",
        "Darf ein Beamter die Annahme einer Beschwerde verweigern?",
        "Welche Behörde erteilt Aufenthaltstitel?",
        "Wie lange werden Personalakten aufbewahrt?",
    ],
    "pl": [
        "W ciągu ilu dni należy odpowiedzieć na petycję?",
        "Kto podpisuje decyzję o pozwoleniu na budowę?",
        "Jaki jest termin na wniesienie odwołania?",
        "Czy urzędnik może odmówić przyjęcia skargi?",
        "Który organ wydaje zezwolenia na pobyt?",
        "Jak długo przechowuje się akta osobowe?",
    ],
    "id": [
        "Dalam berapa hari sebuah petisi harus dijawab?",
        "Siapa yang menandatangani keputusan izin mendirikan bangunan?",
        "Berapa lama batas waktu untuk mengajukan banding?",
        "Apakah pejabat boleh menolak mendaftarkan pengaduan?",
        "Instansi mana yang menerbitkan izin tinggal?",
        "Berapa lama arsip kepegawaian disimpan?",
    ],
    "ar": [
        "خلال كم يومًا يجب الرد على العريضة؟",
        "من يوقع قرار رخصة البناء؟",
        "ما هي المهلة المحددة لتقديم الطعن؟",
        "هل يجوز للموظف رفض تسجيل الشكوى؟",
        "ما الجهة التي تصدر تصاريح الإقامة؟",
        "كم من الوقت تحفظ الملفات الشخصية؟",
    ],
    "vi": [
        "Trong bao nhiêu ngày phải trả lời đơn kiến nghị?",
        "Ai ký quyết định cấp giấy phép xây dựng?",
        "Thời hạn nộp đơn kháng cáo là bao lâu?",
        "Cán bộ có được từ chối tiếp nhận khiếu nại không?",
        "Cơ quan nào cấp thẻ tạm trú?",
        "Hồ sơ cá nhân được lưu trữ trong bao lâu?",
    ],
    "pt": [
        "Em quantos dias deve ser respondida uma petição?",
        "Quem assina a decisão sobre a licença de construção?",
        "Qual é o prazo para interpor recurso?",
        "Um funcionário pode recusar o registo de uma reclamação?",
        "Que autoridade emite as autorizações de residência?",
        "Durante quanto tempo são conservados os processos pessoais?",
    ],
    "ru": [
        "В течение скольких дней нужно ответить на обращение?",
        "Кто подписывает решение о разрешении на строительство?",
        "Каков срок подачи апелляции?",
        "Может ли чиновник отказать в регистрации жалобы?",
        "Какой орган выдаёт вид на жительство?",
        "Сколько времени хранятся личные дела?",
    ],
}

CASES = [(lang, q) for lang, questions in QUESTIONS.items() for q in questions]


@pytest.mark.parametrize(("expected", "question"), CASES)
def test_detects_one_line_questions(expected: str, question: str) -> None:
    assert detect_language(question, CANDIDATES) == expected


def test_accuracy_without_candidates_is_high() -> None:
    correct = sum(detect_language(q) == lang for lang, q in CASES)
    assert correct / len(CASES) >= 0.95


@pytest.mark.parametrize(
    ("expected", "question"),
    [
        ("vi", "Lệ phí?"),
        ("vi", "Ai ký?"),
        ("es", "¿Plazo?"),
        ("pt", "Não sei"),
        ("uk", "Строк відповіді?"),
        ("ru", "Объяснение"),
        ("de", "Gebühr?"),
        ("ja", "不服申立ての期限は？"),
        ("ko", "이의 신청 기한은 얼마입니까?"),
        ("fa", "مهلت اعتراض چقدر است؟"),
    ],
)
def test_very_short_questions(expected: str, question: str) -> None:
    assert detect_language(question, CANDIDATES) == expected


def test_no_evidence_gives_the_default_not_the_first_label() -> None:
    # The model has no n-gram for "Frist?" and scores all languages alike; bare py3langid
    # then returns its first label, "ar".
    assert detect_language("Frist?", CANDIDATES, default="de") == "de"
    assert detect_language("Frist?", CANDIDATES) == "en"


def test_never_picks_a_language_of_another_script() -> None:
    latin = detect_language("Frist?", CANDIDATES, default="ru")
    assert latin not in {"ar", "fa", "ru", "uk", "zh", "ja", "ko", "th", "hi"}
    assert detect_language("Кто?", CANDIDATES, default="en") in {"ru", "uk"}


def test_vietnamese_letters_decide_vietnamese() -> None:
    assert detect_language("nghị") == "vi"  # the bare model says Igbo


def test_result_is_always_a_candidate() -> None:
    italian = "Entro quanti giorni deve essere data risposta a una petizione?"
    assert detect_language(italian) == "it"
    assert detect_language(italian, ["en", "es", "fr"]) in {"en", "es", "fr"}
    assert detect_language("Cơ quan nào cấp thẻ tạm trú?", ["en", "fr"]) in {"en", "fr"}


def test_single_candidate_is_returned_as_is() -> None:
    assert detect_language("Wer genehmigt Urlaub?", ["pl"]) == "pl"


@pytest.mark.parametrize("text", ["", "   ", "12345 ?!", "٣٤ — 2024/5"])
def test_text_without_letters_gets_the_default(text: str) -> None:
    assert detect_language(text, CANDIDATES, default="fr") == "fr"


def test_unknown_candidates_fall_back_to_default() -> None:
    assert detect_language("Who signs the permit?", ["xx", "yy"], default="de") == "de"
    assert detect_language("Who signs the permit?", ["xx", "en", "fr"]) == "en"


def test_only_the_start_of_a_long_text_is_read() -> None:
    text = "The authority shall answer every petition in writing. " * 40 + "Bonjour " * 2000
    assert detect_language(text, CANDIDATES) == "en"


def test_candidate_sets_do_not_leak_into_each_other() -> None:
    question = "Quem assina a decisão sobre a licença de construção?"
    assert detect_language(question, ["es", "fr"]) in {"es", "fr"}
    assert detect_language(question, CANDIDATES) == "pt"
    assert detect_language(question) == "pt"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("المادة ٥ الفقرة ١٢", "المادة 5 الفقرة 12"),  # Arabic-Indic
        ("ماده ۱۲ بند ۳", "ماده 12 بند 3"),  # Extended Arabic-Indic (Persian)
        ("धारा १२", "धारा 12"),  # Devanagari
        ("第１２条", "第12条"),  # fullwidth
        ("Article 5(2), 2024", "Article 5(2), 2024"),
        ("x² + ½", "x² + ½"),  # superscripts and fractions are not decimal digits
    ],
)
def test_normalize_digits(text: str, expected: str) -> None:
    assert normalize_digits(text) == expected
