"""Which language a recording is in and what to do with it: the options a session passes to its engine once."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Literal

from aero_agent.errors import InvalidArgumentError
from aero_agent.vocabulary import Vocabulary

AUTO = "auto"
TASKS = ("transcribe", "translate")
MAX_BEAM = 16
Task = Literal["transcribe", "translate"]

# Whisper's languages by code, in the order of its language tokens (<|en|> first); yue is large-v3's addition.
LANGUAGES: dict[str, str] = dict(item.split(":") for item in (
    "en:english zh:chinese de:german es:spanish ru:russian ko:korean fr:french ja:japanese pt:portuguese "
    "tr:turkish pl:polish ca:catalan nl:dutch ar:arabic sv:swedish it:italian id:indonesian hi:hindi fi:finnish "
    "vi:vietnamese he:hebrew uk:ukrainian el:greek ms:malay cs:czech ro:romanian da:danish hu:hungarian ta:tamil "
    "no:norwegian th:thai ur:urdu hr:croatian bg:bulgarian lt:lithuanian la:latin mi:maori ml:malayalam cy:welsh "
    "sk:slovak te:telugu fa:persian lv:latvian bn:bengali sr:serbian az:azerbaijani sl:slovenian kn:kannada "
    "et:estonian mk:macedonian br:breton eu:basque is:icelandic hy:armenian ne:nepali mn:mongolian bs:bosnian "
    "kk:kazakh sq:albanian sw:swahili gl:galician mr:marathi pa:punjabi si:sinhala km:khmer sn:shona yo:yoruba "
    "so:somali af:afrikaans oc:occitan ka:georgian be:belarusian tg:tajik sd:sindhi gu:gujarati am:amharic "
    "yi:yiddish lo:lao uz:uzbek fo:faroese ht:haitian_creole ps:pashto tk:turkmen nn:nynorsk mt:maltese "
    "sa:sanskrit lb:luxembourgish my:myanmar bo:tibetan tl:tagalog mg:malagasy as:assamese tt:tatar "
    "haw:hawaiian ln:lingala ha:hausa ba:bashkir jw:javanese su:sundanese yue:cantonese").split())
_BY_NAME = {name.replace("_", " "): code for code, name in LANGUAGES.items()}


def language_code(value: str) -> str:
    """``auto``, or the Whisper code of a language given by code (``de``) or English name (``German``)."""
    key = value.strip().lower().replace("_", " ")
    if key == AUTO or key in LANGUAGES:
        return key
    if key in _BY_NAME:
        return _BY_NAME[key]
    raise InvalidArgumentError(f"unknown language {value!r}; use auto or a code such as en, de, es, fr, zh "
                               f"({len(LANGUAGES)} codes: {' '.join(LANGUAGES)})")


@dataclass(frozen=True)
class TranscribeOptions:
    """The language of a recording and the task: fixed once when a session opens, read by the engine.

    ``language``: None for the model's own default (English for an English-only model, detection for a
    multilingual one), ``auto`` to detect it from the first speech, or a code (``de``) or name (``German``).
    ``task``: ``transcribe`` keeps the spoken language, ``translate`` writes English.
    ``vocabulary``: names and terms to spell as listed, in every window (see :mod:`aero_agent.vocabulary`).
    """

    language: str | None = None
    task: Task = "transcribe"
    beam_size: int | None = None
    """Hypotheses kept while decoding: 1 is greedy, 5 faster-whisper's default; None: the engine's own measured
    choice (beam search where it pays). Engines without beams ignore it."""
    vocabulary: Vocabulary = Vocabulary()

    def __post_init__(self) -> None:
        if self.beam_size is not None and (isinstance(self.beam_size, bool) or not isinstance(self.beam_size, int)
                                           or not 1 <= self.beam_size <= MAX_BEAM):
            raise InvalidArgumentError(f"beam_size must be a whole number from 1 to {MAX_BEAM}, got {self.beam_size!r}")
        if self.language is not None:
            if not isinstance(self.language, str):
                raise InvalidArgumentError(f"language must be a string such as auto, en or de, got {self.language!r}")
            object.__setattr__(self, "language", language_code(self.language))
        if self.task not in TASKS:
            raise InvalidArgumentError(f"unknown task {self.task!r}; use transcribe or translate")
        object.__setattr__(self, "vocabulary", Vocabulary.of(self.vocabulary))

    @property
    def is_default(self) -> bool:
        """True when nothing was asked beyond the model's default."""
        return self.language is None and self.task == "transcribe" and not self.vocabulary

    def with_vocabulary(self, vocabulary: Vocabulary) -> "TranscribeOptions":
        """These options with ``vocabulary`` added after their own terms."""
        return self if not vocabulary else replace(self, vocabulary=self.vocabulary | vocabulary)

    @property
    def multilingual(self) -> bool:
        """True when these options need a multilingual model (anything but English transcription)."""
        return self.task == "translate" or self.language not in (None, "en")

    @classmethod
    def of(cls, language: str | None = None, task: str | None = None,
           beam_size: int | None = None,
           vocabulary: Vocabulary | Iterable[str] | str | None = None) -> "TranscribeOptions":
        """Options from loose values (skins' arguments); empty strings (and a beam size of 0) mean the default."""
        return cls(language or None, (task or "transcribe"), beam_size or None,  # type: ignore[arg-type]
                   Vocabulary.of(vocabulary))


def check_engine_options(engine: object, options: TranscribeOptions) -> None:
    """Refuse, before any work, options the engine cannot honour: an engine that knows languages checks them
    itself (``check_options``); any other takes only the defaults."""
    check = getattr(engine, "check_options", None)
    if check is not None:
        check(options)
    elif not options.is_default:
        from aero_agent.errors import CapabilityError

        raise CapabilityError(f"the {getattr(engine, 'name', 'current')} engine takes no language or task option; "
                              "use engine 'whisper'")
