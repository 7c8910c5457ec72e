"""What a test can read of this process's pages."""

from __future__ import annotations

from pathlib import Path


def resident_bytes(file_part: str) -> int:
    """Resident bytes of this process's mappings of the files whose path contains `file_part`
    (/proc/self/smaps)."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        if "-" in fields[0] and len(fields) >= 5 and ":" not in fields[0]:  # a mapping's header
            inside = len(fields) == 6 and file_part in fields[5]
        elif inside and fields[0] == "Rss:":
            total += int(fields[1]) * 1024
    return total
