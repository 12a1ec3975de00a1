"""Suggested models per language group, and which of them this machine can use offline.

The catalog only suggests: any hub id or local folder still works as the ``model`` setting.
Every entry is an encoder that fine-tunes well for text classification
(``AutoModelForSequenceClassification``) and publishes safetensors weights or gets them from
the hub's conversion. Availability is read from the local Hugging Face cache without network
(``hub.cached_snapshot``), so listing the catalog is cheap and works offline.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from arena_core.training import hub

ENGLISH, FRENCH, GERMAN, SPANISH = "English", "French", "German", "Spanish"
ITALIAN, PORTUGUESE, MULTILINGUAL, LONG = "Italian", "Portuguese", "multilingual", "long documents"
GROUPS = (ENGLISH, FRENCH, GERMAN, SPANISH, ITALIAN, PORTUGUESE, MULTILINGUAL, LONG)
MULTI = "multi"  # an entry's language meaning "about 100 languages": it matches any dataset
PACKAGED_ID = "minilm"
AVAILABLE, DOWNLOAD = "available offline", "download"

# Language names a language column may hold instead of ISO 639-1 codes.
LANGUAGE_NAMES = {
    "english": "en",
    "anglais": "en",
    "french": "fr",
    "français": "fr",
    "francais": "fr",
    "german": "de",
    "deutsch": "de",
    "allemand": "de",
    "spanish": "es",
    "español": "es",
    "espanol": "es",
    "espagnol": "es",
    "italian": "it",
    "italiano": "it",
    "italien": "it",
    "portuguese": "pt",
    "português": "pt",
    "portugues": "pt",
    "portugais": "pt",
}


@dataclass(frozen=True)
class CatalogEntry:
    """One suggested model: its hub id (or 'minilm'), what it reads, how big, a short note."""

    id: str
    group: str
    languages: tuple[str, ...]
    size: str  # parameters, approximate ("110M")
    max_tokens: int
    note: str

    def matches(self, codes: set[str]) -> bool:
        """Whether the entry suits a dataset in these languages (multilingual ones suit all)."""
        return MULTI in self.languages or bool(codes.intersection(self.languages))


def _e(hub_id: str, group: str, langs: str, size: str, tokens: int, note: str) -> CatalogEntry:
    return CatalogEntry(hub_id, group, tuple(langs.split(",")), size, tokens, note)


CATALOG: tuple[CatalogEntry, ...] = (
    _e(PACKAGED_ID, ENGLISH, "en", "22M", 512, "packaged all-MiniLM-L6-v2: the fast default"),
    _e("bert-base-uncased", ENGLISH, "en", "110M", 512, "the classic baseline, lower-cased"),
    _e("bert-base-cased", ENGLISH, "en", "110M", 512, "BERT keeping case (names, acronyms)"),
    _e("distilbert-base-uncased", ENGLISH, "en", "66M", 512, "BERT distilled: 60% faster"),
    _e("distilroberta-base", ENGLISH, "en", "82M", 512, "RoBERTa distilled: fast, robust"),
    _e("roberta-base", ENGLISH, "en", "125M", 512, "strong general-purpose English encoder"),
    _e("roberta-large", ENGLISH, "en", "355M", 512, "more accurate, slow on a CPU"),
    _e("microsoft/deberta-v3-xsmall", ENGLISH, "en", "71M", 512, "small DeBERTa, good value"),
    _e("microsoft/deberta-v3-small", ENGLISH, "en", "141M", 512, "DeBERTa v3, 6 layers"),
    _e("microsoft/deberta-v3-base", ENGLISH, "en", "184M", 512, "often the best base-size model"),
    _e("google/electra-small-discriminator", ENGLISH, "en", "14M", 512, "tiny and quick"),
    _e("google/electra-base-discriminator", ENGLISH, "en", "110M", 512, "efficient pretraining"),
    _e(
        "sentence-transformers/all-MiniLM-L12-v2",
        ENGLISH,
        "en",
        "33M",
        512,
        "12-layer sibling of the packaged MiniLM",
    ),
    _e(
        "sentence-transformers/all-mpnet-base-v2",
        ENGLISH,
        "en",
        "110M",
        512,
        "sentence embeddings, good start for short texts",
    ),
    _e("camembert-base", FRENCH, "fr", "110M", 512, "the reference French RoBERTa"),
    _e("camembert/camembert-large", FRENCH, "fr", "335M", 512, "more accurate, slow on a CPU"),
    _e("cmarkea/distilcamembert-base", FRENCH, "fr", "68M", 512, "CamemBERT distilled: 2x faster"),
    _e("almanach/camembert-bio-base", FRENCH, "fr", "110M", 512, "biomedical French texts"),
    _e("flaubert/flaubert_small_cased", FRENCH, "fr", "54M", 512, "small French XLM"),
    _e("flaubert/flaubert_base_cased", FRENCH, "fr", "138M", 512, "French XLM, keeps case"),
    _e("dbmdz/bert-base-german-cased", GERMAN, "de", "110M", 512, "German BERT, keeps case"),
    _e("deepset/gbert-base", GERMAN, "de", "110M", 512, "strong German BERT"),
    _e("deepset/gbert-large", GERMAN, "de", "335M", 512, "more accurate, slow on a CPU"),
    _e("deepset/gelectra-base", GERMAN, "de", "110M", 512, "German ELECTRA"),
    _e("distilbert-base-german-cased", GERMAN, "de", "66M", 512, "German DistilBERT: fast"),
    _e(
        "dccuchile/bert-base-spanish-wwm-cased",
        SPANISH,
        "es",
        "110M",
        512,
        "BETO, the reference Spanish BERT",
    ),
    _e(
        "dccuchile/bert-base-spanish-wwm-uncased",
        SPANISH,
        "es",
        "110M",
        512,
        "BETO, lower-cased",
    ),
    _e("PlanTL-GOB-ES/roberta-base-bne", SPANISH, "es", "125M", 512, "RoBERTa on Spanish web"),
    _e("PlanTL-GOB-ES/roberta-large-bne", SPANISH, "es", "355M", 512, "slow on a CPU"),
    _e(
        "bertin-project/bertin-roberta-base-spanish",
        SPANISH,
        "es",
        "125M",
        512,
        "RoBERTa on Spanish mC4",
    ),
    _e("dbmdz/bert-base-italian-cased", ITALIAN, "it", "110M", 512, "Italian BERT"),
    _e("dbmdz/bert-base-italian-uncased", ITALIAN, "it", "110M", 512, "Italian BERT, lower"),
    _e(
        "dbmdz/bert-base-italian-xxl-cased",
        ITALIAN,
        "it",
        "110M",
        512,
        "trained on 81 GB of Italian",
    ),
    _e(
        "Musixmatch/umberto-commoncrawl-cased-v1",
        ITALIAN,
        "it",
        "110M",
        512,
        "UmBERTo, RoBERTa on Italian web",
    ),
    _e(
        "neuralmind/bert-base-portuguese-cased",
        PORTUGUESE,
        "pt",
        "110M",
        512,
        "BERTimbau, Brazilian Portuguese",
    ),
    _e(
        "neuralmind/bert-large-portuguese-cased",
        PORTUGUESE,
        "pt",
        "335M",
        512,
        "BERTimbau large, slow on a CPU",
    ),
    _e("xlm-roberta-base", MULTILINGUAL, MULTI, "278M", 512, "100 languages, strong default"),
    _e("xlm-roberta-large", MULTILINGUAL, MULTI, "560M", 512, "best multilingual, slow"),
    _e("bert-base-multilingual-cased", MULTILINGUAL, MULTI, "178M", 512, "mBERT, 104 languages"),
    _e(
        "distilbert-base-multilingual-cased",
        MULTILINGUAL,
        MULTI,
        "135M",
        512,
        "mBERT distilled: 2x faster",
    ),
    _e("microsoft/mdeberta-v3-base", MULTILINGUAL, MULTI, "278M", 512, "multilingual DeBERTa"),
    _e(
        "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2",
        MULTILINGUAL,
        MULTI,
        "118M",
        512,
        "small multilingual MiniLM, fast",
    ),
    _e(
        "sentence-transformers/paraphrase-multilingual-mpnet-base-v2",
        MULTILINGUAL,
        MULTI,
        "278M",
        512,
        "multilingual sentence encoder",
    ),
    _e("intfloat/multilingual-e5-small", MULTILINGUAL, MULTI, "118M", 512, "E5, small and fast"),
    _e("intfloat/multilingual-e5-base", MULTILINGUAL, MULTI, "278M", 512, "E5 base"),
    _e("allenai/longformer-base-4096", LONG, "en", "149M", 4096, "sparse attention, 4k tokens"),
    _e("google/bigbird-roberta-base", LONG, "en", "128M", 4096, "block-sparse attention"),
    _e("answerdotai/ModernBERT-base", LONG, "en", "149M", 8192, "modern encoder, 8k tokens"),
    _e("answerdotai/ModernBERT-large", LONG, "en", "395M", 8192, "ModernBERT large, slow"),
    _e("BAAI/bge-m3", LONG, MULTI, "568M", 8192, "XLM-R based, 8k tokens, 100+ languages"),
)


def language_codes(languages: Iterable[str] | None) -> set[str] | None:
    """Dataset languages ('EN', 'fr', 'French', 'pt-BR') as lower-case ISO 639-1 codes."""
    if languages is None:
        return None
    codes = set()
    for raw in languages:
        text = str(raw).strip().lower()
        if not text:
            continue
        text = LANGUAGE_NAMES.get(text, text)
        codes.add(text.replace("_", "-").split("-")[0])
    return codes


def entries(languages: Iterable[str] | None = None) -> list[CatalogEntry]:
    """The entries for a dataset in ``languages`` (all when None), the packaged one first.

    Multilingual entries suit every language; the packaged MiniLM is always listed since it is
    the default and needs nothing.
    """
    codes = language_codes(languages)
    if not codes:  # None or an empty list: no language known, show everything
        return list(CATALOG)
    return [e for e in CATALOG if e.id == PACKAGED_ID or e.matches(codes)]


def is_available_offline(entry_id: str) -> bool:
    """Packaged, or config and weights already in the local Hugging Face cache."""
    return entry_id == PACKAGED_ID or hub.is_cached(entry_id)


def catalog_rows(languages: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """One row per suggested model with its availability, for tables and ``--json``."""
    rows = []
    for entry in entries(languages):
        available = is_available_offline(entry.id)
        rows.append(
            {
                "id": entry.id,
                "group": entry.group,
                "languages": list(entry.languages),
                "size": entry.size,
                "max_tokens": entry.max_tokens,
                "note": entry.note,
                "available_offline": available,
                "status": AVAILABLE if available else DOWNLOAD,
            }
        )
    return rows
