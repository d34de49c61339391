"""Every audio tool, by name: the map :class:`~langchain_aero.AudioToolkit` selects from.

Each tool lives in its own module (``open_audio.py``, ``transcribe_audio.py``, ...); what they share is in
:mod:`langchain_aero.base`. A new tool is a module with its input schema and :class:`AudioTool` subclass, and
one entry in :data:`TOOLS`.
"""

from __future__ import annotations

from aero_agent.transcript import clock
from langchain_aero.append_audio import AppendAudioInput, AppendAudioTool
from langchain_aero.ask_audio import AskAudioInput, AskAudioTool
from langchain_aero.close_audio_session import CloseAudioSessionInput, CloseAudioSessionTool
from langchain_aero.extract_from_audio import ExtractFromAudioInput, ExtractFromAudioTool
from langchain_aero.finish_live_session import FinishLiveSessionInput, FinishLiveSessionTool
from langchain_aero.list_events import ListEventsInput, ListEventsTool
from langchain_aero.list_audio_sessions import ListAudioSessionsInput, ListAudioSessionsTool
from langchain_aero.enroll_voice import EnrollVoiceInput, EnrollVoiceTool
from langchain_aero.forget_voice import ForgetVoiceInput, ForgetVoiceTool
from langchain_aero.list_speakers import ListSpeakersInput, ListSpeakersTool
from langchain_aero.list_voices import ListVoicesInput, ListVoicesTool
from langchain_aero.name_speaker import NameSpeakerInput, NameSpeakerTool
from langchain_aero.open_audio import OpenAudioInput, OpenAudioTool
from langchain_aero.search_audio import SearchAudioInput, SearchAudioTool
from langchain_aero.search_library import SearchLibraryInput, SearchLibraryTool
from langchain_aero.start_live_session import StartLiveSessionInput, StartLiveSessionTool
from langchain_aero.store_vocabulary import StoreVocabularyInput, StoreVocabularyTool
from langchain_aero.transcribe_audio import TranscribeAudioInput, TranscribeAudioTool
from langchain_aero.base import (
    DEFAULT_MAX_OUTPUT_CHARS,
    AudioTool,
    cap_transcript,
    describe_info,
    explain_validation_error,
    tool_errors,
)

TOOL_CLASSES: tuple[type[AudioTool], ...] = (
    OpenAudioTool, TranscribeAudioTool, AskAudioTool, SearchAudioTool, ExtractFromAudioTool,
    ListAudioSessionsTool, CloseAudioSessionTool, SearchLibraryTool, StartLiveSessionTool, AppendAudioTool,
    FinishLiveSessionTool, ListSpeakersTool, ListEventsTool, NameSpeakerTool, EnrollVoiceTool, ListVoicesTool,
    ForgetVoiceTool, StoreVocabularyTool,
)
TOOLS: dict[str, type[AudioTool]] = {cls.model_fields["name"].default: cls for cls in TOOL_CLASSES}
"""Tool name -> tool class, in the order the toolkit lists them."""

__all__ = [
    "AudioTool", "OpenAudioTool", "TranscribeAudioTool", "AskAudioTool", "SearchAudioTool", "ExtractFromAudioTool",
    "ListAudioSessionsTool", "CloseAudioSessionTool", "SearchLibraryTool", "SearchLibraryInput", "TOOL_CLASSES", "TOOLS", "OpenAudioInput",
    "TranscribeAudioInput", "AskAudioInput", "SearchAudioInput", "ExtractFromAudioInput", "ListAudioSessionsInput",
    "CloseAudioSessionInput", "StartLiveSessionTool", "AppendAudioTool", "FinishLiveSessionTool",
    "StartLiveSessionInput", "AppendAudioInput", "FinishLiveSessionInput", "ListSpeakersTool", "ListSpeakersInput", "ListEventsTool", "ListEventsInput", "DEFAULT_MAX_OUTPUT_CHARS", "explain_validation_error", "tool_errors",
    "cap_transcript", "clock", "describe_info", "NameSpeakerTool", "NameSpeakerInput", "EnrollVoiceTool",
    "EnrollVoiceInput", "ListVoicesTool", "ListVoicesInput", "ForgetVoiceTool", "ForgetVoiceInput", "StoreVocabularyTool",
    "StoreVocabularyInput",
]
