"""One self-contained HTML page for a transcript: the recording embedded as a ``data:`` URI, a speaker timeline,
the transcript in speaker colours with times that seek the player, and a search box.

Nothing is fetched when the page is opened (no external script, style sheet, font or image), so it can be
mailed, archived or opened offline. Speech is embedded as Ogg Opus at 24 kbit/s (163 KB for the 60.5-s bundled
meeting, 217 KB as base64); where the installed PyAV lacks libopus it falls back to FLAC, which is lossless and
about four times larger.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from pathlib import Path
from string import Template

import numpy as np

from aero_agent.audio import AudioClip
from aero_agent.transcript import Segment, Transcript, clock

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22")
"""Speaker colours (Tableau 10), given in label order; a recording with more speakers reuses them."""
NO_SPEAKER = "speech"
"""The timeline row for segments without a speaker label (a transcript that was not diarized)."""


@dataclass(frozen=True)
class PageOptions:
    """How the page is made."""

    title: str | None = None
    """The page heading; the recording's file name when None."""
    opus_bitrate: int = 24_000
    """Bits per second of the embedded Opus audio; 24 kbit/s keeps speech clear."""
    embed_audio: bool = True
    """False leaves the player out (the page then has the timeline, transcript and search only)."""


@dataclass(frozen=True)
class EmbeddedAudio:
    """Encoded audio for a ``data:`` URI."""

    mime: str
    data: bytes

    @property
    def uri(self) -> str:
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"


def encode_audio(clip: AudioClip, bitrate: int = 24_000) -> EmbeddedAudio:
    """``clip`` as Ogg Opus at ``bitrate`` (FLAC when this PyAV has no Opus encoder)."""
    try:
        return EmbeddedAudio("audio/ogg", _opus(clip, bitrate))
    except Exception:  # a PyAV build without libopus: lossless, larger, and still plays everywhere
        import soundfile as sf

        buffer = io.BytesIO()
        sf.write(buffer, clip.samples, clip.sample_rate, format="FLAC", subtype="PCM_16")
        return EmbeddedAudio("audio/flac", buffer.getvalue())


def _opus(clip: AudioClip, bitrate: int) -> bytes:
    import av

    pcm = (np.clip(clip.samples, -1.0, 1.0) * 32767).astype(np.int16)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="ogg") as out:
        stream = out.add_stream("libopus", rate=clip.sample_rate, layout="mono")
        stream.bit_rate = bitrate
        step = clip.sample_rate  # one second a frame; the encoder re-frames internally
        for lo in range(0, len(pcm), step):
            frame = av.AudioFrame.from_ndarray(pcm[None, lo:lo + step], format="s16", layout="mono")
            frame.sample_rate = clip.sample_rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


def speaker_colours(transcript: Transcript) -> dict[str, str]:
    """A colour for each speaker label (and for :data:`NO_SPEAKER` when some segment has none)."""
    labels = sorted({s.speaker for s in transcript.segments if s.speaker})
    if any(not s.speaker for s in transcript.segments):
        labels.append(NO_SPEAKER)
    return {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(labels)}


def transcript_page(transcript: Transcript, clip: AudioClip | None = None,
                    options: PageOptions = PageOptions()) -> str:
    """The page for ``transcript``; ``clip`` is the recording to embed (no player without it)."""
    source = clip.source if clip is not None else ""
    title = options.title or (Path(source).name if source else "Transcript")
    duration = max(transcript.duration_s, clip.duration_s if clip is not None else 0.0,
                   max((s.end for s in transcript.segments), default=0.0)) or 1.0
    colours = speaker_colours(transcript)
    audio = (encode_audio(clip, options.opus_bitrate) if clip is not None and options.embed_audio else None)
    player = (f'<audio id="player" controls preload="auto" src="{audio.uri}"></audio>' if audio is not None
              else '<p class="note">No audio embedded.</p>')
    return _PAGE.substitute(
        title=html.escape(title),
        summary=html.escape(_summary(transcript, duration)),
        player=player,
        legend=_legend(transcript, colours),
        timeline=_timeline(transcript, colours, duration),
        lines="\n".join(_line(s, colours) for s in transcript.segments) or '<p class="note">No speech.</p>',
        total=len(transcript.segments),
    )


def _summary(transcript: Transcript, duration: float) -> str:
    speakers = len({s.speaker for s in transcript.segments if s.speaker})
    who = f", {speakers} speaker{'s' if speakers != 1 else ''}" if speakers else ""
    return f"{clock(duration)} long, {len(transcript.segments)} segments{who}"


def _label(segment: Segment) -> str:
    return segment.speaker or NO_SPEAKER


def _legend(transcript: Transcript, colours: dict[str, str]) -> str:
    talk = {s.speaker: s for s in transcript.speakers()}
    items = []
    for label, colour in colours.items():
        share = f" {talk[label].share:.0%}, {talk[label].talk_time_s:.0f} s" if label in talk else ""
        items.append(f'<li style="--c:{colour}"><span class="swatch"></span>{html.escape(label)}{share}</li>')
    return "\n".join(items)


EVENT_COLOURS = {"music": "#c9a227", "singing": "#d96f9b", "sound": "#bbb", "non-speech": "#bbb"}


def _timeline(transcript: Transcript, colours: dict[str, str], duration: float) -> str:
    """One row per speaker (and one per kind of sound event: music, singing, sound), each turn or event a bar
    placed by its share of the time."""
    rows = []
    for label, colour in colours.items():
        bars = "".join(_bar(s.start, s.end, duration, f"{label} {clock(s.start)}")
                       for s in transcript.segments if _label(s) == label)
        rows.append(f'<div class="row" style="--c:{colour}"><span class="who">{html.escape(label)}</span>'
                    f'<div class="lane">{bars}</div></div>')
    for kind in dict.fromkeys(e.kind for e in transcript.events):  # a row per event kind, in order of first use
        bars = "".join(_bar(e.start, e.end, duration, f"{kind} {clock(e.start)}")
                       for e in transcript.events if e.kind == kind)
        rows.append(f'<div class="row event" style="--c:{EVENT_COLOURS.get(kind, "#bbb")}">'
                    f'<span class="who">{html.escape(kind)}</span><div class="lane">{bars}</div></div>')
    return "\n".join(rows)


def _bar(start: float, end: float, duration: float, tip: str) -> str:
    left = 100.0 * max(0.0, start) / duration
    width = max(0.25, 100.0 * max(0.0, end - start) / duration)  # a short turn still shows, and can be hit
    return (f'<button class="bar" data-t="{start:.2f}" title="{html.escape(tip)}" '
            f'style="left:{left:.3f}%;width:{width:.3f}%"></button>')


def _line(segment: Segment, colours: dict[str, str]) -> str:
    label = _label(segment)
    who = f'<span class="who">{html.escape(segment.speaker)}</span> ' if segment.speaker else ""
    return (f'<p class="seg" data-start="{segment.start:.2f}" data-end="{segment.end:.2f}" '
            f'data-speaker="{html.escape(label)}" style="--c:{colours[label]}">'
            f'<button class="t" data-t="{segment.start:.2f}">[{clock(segment.start)}]</button> {who}'
            f'<span class="txt">{html.escape(segment.text.strip())}</span></p>')


_PAGE = Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="aero-agent">
<title>$title</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:1.5rem auto;padding:0 1rem;color:#222}
h1{font-size:1.3rem;margin:0}.summary{color:#666;margin:.2rem 0 1rem}
audio{width:100%}
.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:1rem;margin:.6rem 0}
.swatch{display:inline-block;width:.8rem;height:.8rem;border-radius:2px;background:var(--c);margin-right:.35rem}
.timeline{margin:.6rem 0 1rem}.row{display:flex;align-items:center;margin:2px 0}
.row .who{width:8rem;font-size:.8rem;color:var(--c);font-weight:600;flex:none}
.lane{position:relative;flex:1;height:14px;background:#f3f3f3;border-radius:3px}
.bar{position:absolute;top:0;height:100%;padding:0;border:0;border-radius:2px;background:var(--c);cursor:pointer}
input[type=search]{width:100%;font:inherit;padding:.4rem .6rem;box-sizing:border-box}
#count{color:#666;font-size:.85rem;margin:.3rem 0 .6rem}
.seg{margin:.15rem 0;padding:.1rem .4rem;border-left:4px solid var(--c)}
.seg.now{background:#fff6d5}.seg .who{color:var(--c);font-weight:600}
.t{font:inherit;font-family:ui-monospace,monospace;color:#06c;background:none;border:0;padding:0;cursor:pointer}
.note{color:#666}
</style>
</head>
<body>
<h1>$title</h1>
<p class="summary">$summary</p>
$player
<ul class="legend">
$legend
</ul>
<div class="timeline" id="timeline">
$timeline
</div>
<input type="search" id="search" placeholder="Search the transcript" aria-label="Search the transcript">
<div id="count">$total lines</div>
<div id="transcript">
$lines
</div>
<script>
(function () {
  var player = document.getElementById("player");
  var lines = Array.prototype.slice.call(document.querySelectorAll(".seg"));
  document.addEventListener("click", function (ev) {
    var target = ev.target.closest("[data-t]");
    if (!target || !player) return;
    player.currentTime = parseFloat(target.dataset.t);
    var playing = player.play();
    if (playing && playing.catch) playing.catch(function () {});
  });
  if (player) player.addEventListener("timeupdate", function () {
    var t = player.currentTime;
    lines.forEach(function (p) {
      p.classList.toggle("now", t >= parseFloat(p.dataset.start) && t < parseFloat(p.dataset.end));
    });
  });
  var box = document.getElementById("search"), count = document.getElementById("count");
  box.addEventListener("input", function () {
    var words = box.value.toLowerCase().split(/\\s+/).filter(Boolean), shown = 0;
    lines.forEach(function (p) {
      var text = p.textContent.toLowerCase();
      var hit = words.every(function (w) { return text.indexOf(w) >= 0; });
      p.hidden = !hit;
      if (hit) shown += 1;
    });
    count.textContent = !words.length ? lines.length + " lines"
      : shown ? shown + " of " + lines.length + " lines match" : "No line matches \\u201c" + box.value + "\\u201d.";
  });
})();
</script>
</body>
</html>
""")
