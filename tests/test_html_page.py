"""``aero-agent transcribe FILE --speakers --format html``: the page's structure read with Python's HTML parser,
then the page in a real headless Chromium (skipped, with the reason, where none is installed).

The recording is 24 s of the bundled two-speaker meeting (26-50 s: the marketing expert, then the project
documents), made by the command itself in this process, so the engine and the voice encoder load once."""

from __future__ import annotations

import base64
import contextlib
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import soundfile as sf

from aero_agent.audio import load_audio
from aero_agent.cli import main
from aero_agent.data import example_path
from headless_browser import Browser, find_chromium

CROP_S = (26.0, 50.0)


class Page(HTMLParser):
    """The tags of a page with their attributes, and the text of each transcript line."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.lines: list[dict[str, str]] = []
        self._in_line = 0
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = {k: v or "" for k, v in attrs}
        self.tags.append((tag, attrs))
        if tag == "p" and "seg" in attrs.get("class", "").split():
            self.lines.append({**attrs, "text": ""})
            self._in_line = 1
        elif self._in_line:
            self._in_line += 1

    def handle_endtag(self, tag):
        if self._in_line:
            self._in_line -= 1

    def handle_data(self, data):
        if self._in_line:
            self.lines[-1]["text"] += data

    def having(self, tag: str, cls: str | None = None) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag and (cls is None or cls in a.get("class", "").split())]


@pytest.fixture(scope="module")
def page_file(engine, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("html")
    clip = load_audio(example_path("meeting"))
    lo, hi = (int(t * clip.sample_rate) for t in CROP_S)
    recording = folder / "meeting-part.flac"
    sf.write(recording, clip.samples[lo:hi], clip.sample_rate)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["transcribe", str(recording), "--num-speakers", "2", "--format", "html", "-q"]) == 0
    page = folder / "meeting.html"
    page.write_text(out.getvalue(), "utf-8")
    return page


def test_page_is_self_contained_with_audio_timeline_and_lines(page_file: Path):
    """Catches a page that fetches anything, lacks the embedded audio (or embeds audio that does not decode),
    loses a speaker from the timeline or the colours, or shows times that do not seek."""
    text = page_file.read_text("utf-8")
    page = Page(text)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)|@import|url\(""", text)
    assert not page.having("link") and all("src" not in a for a in page.having("script"))
    (audio,) = page.having("audio")
    mime, data = re.fullmatch(r"data:(audio/[a-z]+);base64,(.+)", audio["src"]).groups()
    samples, rate = sf.read(io.BytesIO(base64.b64decode(data)))
    assert mime == "audio/ogg" and abs(len(samples) / rate - (CROP_S[1] - CROP_S[0])) < 0.1
    assert len(text) < 150_000  # Opus at 24 kbit/s: about 100 KB for these 24 s; FLAC or WAV would be 4-8x

    rows = {a["style"]: a for a in page.having("div", "row")}
    assert len(rows) == 2  # one timeline row per speaker, each its own colour
    speakers = {line["data-speaker"] for line in page.lines}
    assert speakers == {"SPEAKER_00", "SPEAKER_01"}
    assert len({line["style"] for line in page.lines}) == 2
    assert len(page.having("button", "bar")) == len(page.lines) >= 4
    for line in page.lines:
        assert re.match(r"\s*\[\d\d:\d\d\]", line["text"]) and line["data-speaker"] in line["text"]
    starts = [float(b["data-t"]) for b in page.having("button", "t")]
    assert starts == sorted(starts) and [float(line["data-start"]) for line in page.lines] == starts
    assert any("documents link" in line["text"] for line in page.lines)
    assert page.having("input") and page.having("input")[0]["type"] == "search"


@pytest.mark.skipif(find_chromium() is None, reason="no Chromium installed (apt-get install chromium) for the "
                                                    "headless browser check of the HTML page")
def test_page_in_headless_chromium_seeks_searches_and_draws(page_file: Path, tmp_path: Path):
    """Catches audio the browser cannot play, times or timeline bars that do not seek the player when clicked,
    a search box that filters nothing or stays silent when nothing matches, and a timeline drawn with no size."""
    with Browser(find_chromium()) as browser:
        browser.open(page_file)
        browser.wait_for("document.getElementById('player').readyState >= 1")
        assert abs(browser.evaluate("document.getElementById('player').duration") - 24.0) < 0.1
        player_at = "document.getElementById('player').currentTime"
        index = browser.evaluate("[...document.querySelectorAll('.seg')].findIndex("
                                 "p => p.textContent.includes('documents link'))")
        assert index >= 0
        browser.click(f".seg:nth-of-type({index + 1}) .t")  # a real mouse click on the line's [mm:ss]
        wanted = float(browser.evaluate(f"document.querySelectorAll('.seg')[{index}].dataset.start"))
        # soon, or playback from 0:00 could pass through the time by itself
        browser.wait_for(f"Math.abs({player_at} - {wanted}) < 0.5", timeout_s=2.0)
        browser.click(".row:nth-of-type(2) .bar")  # the second speaker's first turn on the timeline
        bar_at = float(browser.evaluate("document.querySelector('.row:nth-of-type(2) .bar').dataset.t"))
        browser.wait_for(f"Math.abs({player_at} - {bar_at}) < 0.5", timeout_s=2.0)
        assert bar_at != wanted

        total = browser.evaluate("document.querySelectorAll('.seg').length")
        browser.type_into("#search", "marketing")
        shown = browser.evaluate("[...document.querySelectorAll('.seg')].filter(p => !p.hidden).length")
        assert 1 <= shown < total
        assert browser.evaluate("document.getElementById('count').textContent") == (
            f"{shown} of {total} lines match")
        browser.type_into("#search", " zebra")
        count = browser.evaluate("document.getElementById('count').textContent")
        assert count == "No line matches “marketing zebra”."

        sizes = browser.evaluate("[...document.querySelectorAll('.lane, .bar')].map(e => "
                                 "e.getBoundingClientRect().width)")
        assert all(width > 0 for width in sizes)
        png = browser.screenshot()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    (tmp_path / "meeting.png").write_bytes(png)


def test_page_without_speakers_or_audio_escapes_what_was_said():
    """Catches transcript text put into the page unescaped (a recording that says "<script>" must not run it),
    and a crash on a transcript that was not diarized or has no audio."""
    from aero_agent.html_page import NO_SPEAKER, transcript_page
    from aero_agent.transcript import AudioEvent, Segment, Transcript

    said = 'Type <script>alert("x")</script> & "quotes"'
    transcript = Transcript(segments=[Segment(start=1.0, end=3.5, text=said), Segment(start=4.0, end=5.0, text="ok")],
                            events=[AudioEvent(start=6.0, end=8.0)], duration_s=9.0)
    page = Page(transcript_page(transcript))
    assert not page.having("audio") and len(page.having("script")) == 1  # only the page's own
    assert [line["text"].strip() for line in page.lines] == [f"[00:01] {said}", "[00:04] ok"]
    assert {line["data-speaker"] for line in page.lines} == {NO_SPEAKER}
    assert len(page.having("div", "row")) == 2  # speech, and the non-speech sound
