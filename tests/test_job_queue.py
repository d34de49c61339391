"""How the Whisper engine groups its windows into batches: first-pass speech in time order, then doubtful and
repair windows in batches of their own, longest first, on an encoder input cut to the batch's longest window."""

from __future__ import annotations

import numpy as np

from aero_agent.engines.whisper.chunking import SpeechMap, Window
from aero_agent.engines.whisper.encoder import TAIL_S, window_samples
from aero_agent.engines.whisper.jobs import Job, JobQueue
from aero_agent.engines.whisper.features import WINDOW_SAMPLES

SR = 16_000


def _jobs() -> list[Job]:
    samples = np.zeros(120 * SR, dtype=np.float32)
    smap = SpeechMap(samples, np.zeros(120 * SR // 512, dtype=np.float32))
    speech = [Job.of(0, samples, Window(k * 30 * SR, (k * 30 + 28) * SR), smap) for k in range(3)]
    doubtful = [Job.of(0, samples, Window(s * SR, (s + 2) * SR, has_speech=False, doubtful=True), smap)
                for s in (29, 59)]
    repair = [Job.of(0, samples, Window(s * SR, (s + d) * SR), smap, 1) for s, d in ((10, 1), (40, 4), (70, 3))]
    return speech + doubtful + repair


def test_side_jobs_are_batched_apart_longest_first() -> None:
    """Catches: a doubtful or repair window batched with 30 s speech (it would be padded to 30 s), or side
    batches not grouped by length."""
    queue = JobQueue(batch_size=2, apart=True)
    queue.extend(_jobs())
    batches = []
    while queue:
        batches.append(queue.next_batch())
    assert [[j.side for j in b] for b in batches] == [[False, False], [False], [True, True], [True, True], [True]]
    assert [[j.duration_s for j in b] for b in batches[2:]] == [[3.0, 4.0], [2.0, 2.0], [1.0]]


def test_side_batches_are_encoded_short_and_can_be_kept_whole() -> None:
    """Catches: the side batches padded to 30 s anyway, or ``apart=False`` no longer keeping the old order."""
    queue = JobQueue(batch_size=8, apart=False)
    queue.extend(_jobs())
    assert [j.window for j in queue.next_batch()] == [j.window for j in _jobs()]
    side = [np.zeros(4 * SR, dtype=np.float32), np.zeros(SR, dtype=np.float32)]
    assert window_samples(side, 0.0) == int((4 + TAIL_S) * SR)
    assert window_samples(side, None) == WINDOW_SAMPLES


def test_chained_windows_wait_for_their_predecessor_and_carry_its_text() -> None:
    """Catches: a window batched before the one before it in its stream is decoded, a prompt that is not the
    stream's text so far, a prompt kept after a window the guards rejected, or side windows chained."""
    samples = np.zeros(200 * SR, dtype=np.float32)
    smap = SpeechMap(samples, np.zeros(200 * SR // 512, dtype=np.float32))
    speech = [Job.of(0, samples, Window(k * 30 * SR, (k * 30 + 28) * SR), smap) for k in range(5)]
    speech[0].prompt = (7,)  # the caller's initial prompt
    doubtful = Job.of(0, samples, Window(190 * SR, 192 * SR, has_speech=False, doubtful=True), smap)
    queue = JobQueue(batch_size=4, apart=True, most_prompt=3)
    queue.extend([doubtful, *speech[::-1]])
    queue.chain(2)
    assert [j.stream for j in speech] == [0, 0, 0, 1, 1] and doubtful.stream is None
    first = queue.next_batch()
    assert first == [speech[0], speech[3]]
    assert queue.next_batch() == [doubtful]  # what is ready meanwhile
    assert queue.next_batch() == [] and len(queue) == 3
    speech[0].said, speech[3].said = (1, 2), ()
    for job in first:
        queue.finished(job)
    second = queue.next_batch()
    assert second == [speech[1], speech[4]]
    assert speech[1].prompt == (7, 1, 2) and speech[4].prompt == ()
    speech[1].said = (3, 4)
    queue.finished(speech[1])
    assert queue.next_batch() == [speech[2]] and speech[2].prompt == (2, 3, 4)  # the last most_prompt tokens
    speech[2].said = ()
    queue.finished(speech[2])
    assert queue.context[0] == []
