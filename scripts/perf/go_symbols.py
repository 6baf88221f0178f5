"""Function names for addresses in a stripped Go binary, read from its `.gopclntab` section.

The `temporal` CLI ships without a symbol table, so `perf report` shows bare addresses. Every Go
binary still carries the runtime's own function table (pclntab: entry address and name of each
function), which is all a CPU profile needs. This reads the layout Go 1.20 and later write
(magic 0xFFFFFFF1): a header of eight words, then one (entry offset, func offset) pair per
function, each func record starting with its entry offset and the offset of its name.
"""

from __future__ import annotations

import bisect
import struct
from dataclasses import dataclass
from pathlib import Path

PCLNTAB_GO120 = 0xFFFFFFF1


@dataclass(frozen=True)
class _Section:
    address: int
    offset: int


def _elf_sections(data: bytes) -> dict[str, _Section]:
    """Section name -> (virtual address, file offset), for a 64-bit little-endian ELF file."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError("not a 64-bit little-endian ELF file")
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    entsize, count, names_index = struct.unpack_from("<HHH", data, 0x3A)

    def header(index: int) -> tuple[int, ...]:
        return struct.unpack_from("<IIQQQQIIQQ", data, shoff + index * entsize)

    names_offset = header(names_index)[4]
    sections = {}
    for index in range(count):
        name_at, _type, _flags, address, offset, *_ = header(index)
        start = names_offset + name_at
        name = data[start : data.index(b"\0", start)].decode()
        sections[name] = _Section(address, offset)
    return sections


class GoSymbols:
    """Maps an address of the binary's text to the name of the function that contains it."""

    def __init__(self, entries: list[int], names: list[str], load_bias: int = 0) -> None:
        self._entries = entries
        self._names = names
        # Virtual address minus file offset of the text: perf reports a binary's samples as offsets.
        self.load_bias = load_bias

    @classmethod
    def from_binary(cls, path: Path) -> GoSymbols:
        data = path.read_bytes()
        sections = _elf_sections(data)
        if ".gopclntab" not in sections or ".text" not in sections:
            raise ValueError(f"{path}: no .gopclntab/.text section (not a Go binary?)")
        table = sections[".gopclntab"].offset
        text = sections[".text"].address
        (magic,) = struct.unpack_from("<I", data, table)
        if magic != PCLNTAB_GO120:
            raise ValueError(f"{path}: pclntab magic {magic:#x}; only Go 1.20+ binaries are supported")
        nfunc, _nfiles, _text_start, names_at, _cu, _files, _pc, funcs_at = struct.unpack_from(
            "<8Q", data, table + 8
        )
        functab = table + funcs_at
        entries: list[int] = []
        names: list[str] = []
        for index in range(nfunc):
            entry_offset, func_offset = struct.unpack_from("<II", data, functab + index * 8)
            (name_offset,) = struct.unpack_from("<i", data, functab + func_offset + 4)
            start = table + names_at + name_offset
            names.append(data[start : data.index(b"\0", start)].decode(errors="replace"))
            entries.append(text + entry_offset)
        return cls(entries, names, text - sections[".text"].offset)

    def __len__(self) -> int:
        return len(self._entries)

    def entry(self, name: str) -> int:
        """Entry address of the function called `name` (the first, if several share it)."""
        return self._entries[self._names.index(name)]

    def name_at_offset(self, offset: int) -> str:
        """The function containing the instruction at this file offset (as `perf script` prints it)."""
        return self.name(offset + self.load_bias)

    def name(self, address: int) -> str:
        """The function containing `address`, or "?" below the first function."""
        index = bisect.bisect_right(self._entries, address) - 1
        return self._names[index] if index >= 0 else "?"
