"""Input hygiene at the edges: dates, language codes, document ids and undecodable text.

Pure functions, used where outside input enters: the CLI's arguments and stdin, the bot's
messages, front-matter metadata and file names.

- ``iso_date`` accepts ``YYYY-MM-DD`` only (a real calendar date) and raises ``ValueError``
  with a message fit for the user; the CLI turns it into an argument error (exit status 2).
- ``normalize_language`` maps ISO 639-1, 639-2 (B and T), 639-3 codes, regional tags
  (``pt-BR``) and English or native names to the two-letter code; ``None`` when unknown, so
  the caller detects the language instead of inventing one.
- ``safe_doc_id`` escapes what could break an index key: ``::`` separates the parts of a chunk
  id (``doc::version::index``), and control characters or lone surrogates cannot be stored.
- ``clean_text`` drops lone surrogates and control characters (not tabs and newlines) so a
  question can always be encoded as UTF-8.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from retrieval.models import CHUNK_ID_SEPARATOR

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SURROGATES = re.compile(r"[\ud800-\udfff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

# ISO 639-1, then 639-2/T, 639-2/B (when different) and names (English, then native).
_LANGUAGES = """
af afr - afrikaans
am amh - amharic
ar ara - arabic,العربية
az aze - azerbaijani
be bel - belarusian
bg bul - bulgarian,български
bn ben - bengali,bangla
bs bos - bosnian
ca cat - catalan,català
cs ces cze czech,čeština
cy cym wel welsh
da dan - danish,dansk
de deu ger german,deutsch
el ell gre greek,ελληνικά
en eng - english
eo epo - esperanto
es spa - spanish,castilian,español
et est - estonian,eesti
eu eus baq basque,euskara
fa fas per persian,farsi,فارسی
fi fin - finnish,suomi
fr fra fre french,français
ga gle - irish,gaeilge
gl glg - galician,galego
he heb - hebrew,עברית
hi hin - hindi,हिन्दी
hr hrv - croatian,hrvatski
hu hun - hungarian,magyar
hy hye arm armenian
id ind - indonesian,bahasa indonesia
is isl ice icelandic,íslenska
it ita - italian,italiano
ja jpn - japanese,日本語
ka kat geo georgian
kk kaz - kazakh
km khm - khmer
ko kor - korean,한국어
lt lit - lithuanian,lietuvių
lv lav - latvian,latviešu
mk mkd mac macedonian
ms msa may malay,bahasa melayu
mt mlt - maltese,malti
nl nld dut dutch,flemish,nederlands
no nor - norwegian,norsk
pl pol - polish,polski
ps pus - pashto
pt por - portuguese,português
ro ron rum romanian,moldavian,română
ru rus - russian,русский
sk slk slo slovak,slovenčina
sl slv - slovenian,slovene,slovenščina
sq sqi alb albanian,shqip
sr srp - serbian,српски
sv swe - swedish,svenska
sw swa - swahili,kiswahili
th tha - thai,ไทย
tl tgl - tagalog,filipino
tr tur - turkish,türkçe
uk ukr - ukrainian,українська
ur urd - urdu,اردو
uz uzb - uzbek
vi vie - vietnamese,tiếng việt
zh zho chi chinese,中文
"""


def _language_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for line in _LANGUAGES.strip().splitlines():
        one, two_t, two_b, names = line.split(" ", 3)
        for key in (one, two_t, two_b, *names.split(",")):
            if key != "-":
                table[key.casefold()] = one
    # 639-3 individual languages commonly written for their macrolanguage
    table.update({"arb": "ar", "pes": "fa", "zsm": "ms", "cmn": "zh", "nob": "no", "nno": "no"})
    return table


_TABLE = _language_table()


def normalize_language(value: str | None) -> str | None:
    """ISO 639-1 code of ``value`` (``por`` -> ``pt``, ``French`` -> ``fr``); unknown: None."""
    if not value:
        return None
    text = " ".join(unicodedata.normalize("NFC", value).split()).casefold()
    if text in _TABLE:
        return _TABLE[text]
    primary = re.split(r"[-_]", text, maxsplit=1)[0]  # pt-BR, por_BR, zh-Hant
    return _TABLE.get(primary)


def iso_date(value: str) -> str:
    """``value`` if it is a calendar date written ``YYYY-MM-DD``; ``ValueError`` otherwise."""
    text = value.strip()
    if _ISO_DATE.fullmatch(text):
        try:
            dt.date.fromisoformat(text)
        except ValueError:
            pass
        else:
            return text
    msg = f"not a date in the form YYYY-MM-DD: {value!r}"
    raise ValueError(msg)


def clean_text(text: str) -> str:
    """``text`` without lone surrogates or control characters, stripped: always encodable."""
    return _CONTROL.sub("", _SURROGATES.sub("", text)).strip()


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char == CHUNK_ID_SEPARATOR:
        return "%3A%3A"
    # a byte of a file name that was not UTF-8 comes back as itself; other surrogates as UTF-8
    errors = "surrogateescape" if "\udc80" <= char <= "\udcff" else "surrogatepass"
    return "".join(f"%{b:02X}" for b in char.encode("utf-8", errors))


_UNSAFE = re.compile(re.escape(CHUNK_ID_SEPARATOR) + r"|:$|[\x00-\x1f\x7f]|[\ud800-\udfff]")


def safe_doc_id(doc_id: str) -> str:
    """``doc_id`` with ``::``, a final ``:`` (it would join the separator), control characters
    and lone surrogates percent-escaped.

    An id without them is unchanged, so existing indexes keep their ids (``%`` itself is not
    escaped; two files whose escaped ids collide are reported like any duplicate id).
    """
    return _UNSAFE.sub(_escape, doc_id)
