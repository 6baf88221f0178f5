"""The server profiler's pure parts: Go function names from the real `temporal` binary, perf parsing."""

from __future__ import annotations

import pytest

from scripts.perf.go_symbols import GoSymbols
from scripts.perf.profile_temporal import KERNEL, Profile, parse_perf_script, report
from scripts.stack_temporal import TEMPORAL_BIN


@pytest.fixture(scope="module")
def symbols() -> GoSymbols:
    return GoSymbols.from_binary(TEMPORAL_BIN)


def test_every_function_of_the_shipped_binary_is_named(symbols: GoSymbols) -> None:
    # The CLI has no ELF symbol table; its Go function table still names ~200k functions.
    assert len(symbols) > 10_000
    entry = symbols.entry("main.main")
    assert symbols.name(entry) == "main.main"
    assert symbols.name(entry + 1) == "main.main"
    assert symbols.name(symbols.entry("runtime.mallocgc") + 8) == "runtime.mallocgc"


def test_perf_offsets_are_mapped_through_the_load_bias(symbols: GoSymbols) -> None:
    entry = symbols.entry("main.main")
    assert symbols.name_at_offset(entry - symbols.load_bias + 4) == "main.main"


def test_perf_script_blocks_become_stacks(symbols: GoSymbols) -> None:
    main_at = symbols.entry("main.main") - symbols.load_bias
    text = [
        "\t ffffffff81000000 ([kernel.kallsyms])",
        f"\t {main_at + 2:x} ({TEMPORAL_BIN})",
        "",
        f"\t {main_at + 3:x} ({TEMPORAL_BIN})",
        "\t 1234 ([vdso])",
        "",
    ]
    stacks = parse_perf_script(iter(text), TEMPORAL_BIN, symbols)
    assert stacks == [[KERNEL, "main.main"], ["main.main", "[[vdso]]"]]


def test_report_counts_components_inclusively_and_per_trip() -> None:
    stacks = [
        ["modernc.org/sqlite/lib._sqlite3Prepare", "x.(*visibilityQueueTaskExecutor).Execute"],
        ["modernc.org/sqlite/lib._walFrames", "history/api/respondworkflowtaskcompleted.Invoke"],
        [KERNEL, "x.(*visibilityQueueTaskExecutor).Execute"],
        ["runtime.gcBgMarkWorker"],
    ]
    text = report(Profile(stacks, frequency_hz=1000), trips=2, top=3)
    lines = {line[:52].strip(): line[52:].split() for line in text.splitlines() if "%" in line}
    assert lines["history: visibility queue (visibility rows)"] == ["50.0%", "1.00"]
    assert lines["SQLite, any caller (modernc, Go)"] == ["50.0%", "1.00"]
    assert lines["of which parsing SQL text (sqlite3Prepare)"] == ["25.0%", "0.50"]
    assert lines["kernel (system calls, scheduling, network)"] == ["25.0%", "0.50"]
    assert text.startswith("4 samples at 1000 Hz = 0.00 s of CPU for 2 trips: 2.00 ms per trip")
