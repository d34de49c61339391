"""langchain-aero: LangChain tools that give agents ears, over aero-agent audio sessions.

    from langchain_aero import AudioToolkit
    tools = AudioToolkit(allowed_dirs=["recordings"]).get_tools()

The tools: ``open_audio``, ``transcribe_audio``, ``ask_audio``, ``search_audio``, ``extract_from_audio``,
``list_audio_sessions``, ``close_audio_session``, ``list_speakers`` and ``list_events``; for live audio ``start_live_session``, ``append_audio`` and
``finish_live_session``. Each returns readable text for the model and the
structured result as the ToolMessage artifact; bad input comes back as an error message the model can act on.
"""

from langchain_aero.scripted import ScriptedChatModel, last_tool_message, tool_call, tool_calls
from langchain_aero.toolkit import AudioToolkit, temporary_store
from langchain_aero.tools import (
    TOOL_CLASSES,
    TOOLS,
    AppendAudioTool,
    AskAudioTool,
    AudioTool,
    CloseAudioSessionTool,
    ExtractFromAudioTool,
    FinishLiveSessionTool,
    ListAudioSessionsTool,
    ListEventsTool,
    ListSpeakersTool,
    OpenAudioTool,
    SearchAudioTool,
    SearchLibraryTool,
    StartLiveSessionTool,
    TranscribeAudioTool,
)

__all__ = [
    "AudioToolkit", "AudioTool", "OpenAudioTool", "TranscribeAudioTool", "AskAudioTool", "SearchAudioTool",
    "ExtractFromAudioTool", "ListAudioSessionsTool", "ListSpeakersTool", "ListEventsTool", "CloseAudioSessionTool", "SearchLibraryTool",
    "StartLiveSessionTool", "AppendAudioTool", "FinishLiveSessionTool", "TOOL_CLASSES", "TOOLS", "temporary_store",
    "ScriptedChatModel", "tool_call", "tool_calls", "last_tool_message",
]
