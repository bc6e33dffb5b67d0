"""The character vocabulary of the code corpus: padding, unknown, end-of-file, then printable ASCII.

100 symbols: `string.printable` minus the three rare whitespace characters (CR, VT, FF; CRLF files are
read with universal newlines) gives 97 characters after the 3 specials. Stored with every corpus
manifest and every saved model so a model never meets a vocabulary it was not trained with.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

PAD, UNK, EOF = "<pad>", "<unk>", "<eof>"
SPECIALS = (PAD, UNK, EOF)
CHARACTERS = tuple(c for c in string.printable if c not in "\r\x0b\x0c")


@dataclass(frozen=True)
class CharVocabulary:
    symbols: tuple[str, ...] = SPECIALS + CHARACTERS

    @property
    def size(self) -> int:
        return len(self.symbols)

    @property
    def pad_id(self) -> int:
        return self.symbols.index(PAD)

    @property
    def unk_id(self) -> int:
        return self.symbols.index(UNK)

    @property
    def eof_id(self) -> int:
        return self.symbols.index(EOF)

    def _table(self) -> np.ndarray:
        table = np.full(128, self.unk_id, dtype=np.int32)
        for i, s in enumerate(self.symbols):
            if len(s) == 1 and ord(s) < 128:
                table[ord(s)] = i
        return table

    def encode(self, text: str) -> np.ndarray:
        """Ids of `text` (CRLF/CR read as LF; anything outside the vocabulary is <unk>)."""
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        ids = np.full(len(codes), self.unk_id, dtype=np.int32)
        ascii_mask = codes < 128
        ids[ascii_mask] = self._table()[codes[ascii_mask]]
        return ids

    def decode(self, ids: Sequence[int] | np.ndarray, specials: bool = False) -> str:
        out = []
        for i in ids:
            s = self.symbols[int(i)]
            if len(s) == 1:
                out.append(s)
            elif specials:
                out.append("\n" if s == EOF else ("\ufffd" if s == UNK else ""))
        return "".join(out)

    def to_json(self) -> dict:
        return {"symbols": list(self.symbols), "pad_id": self.pad_id, "unk_id": self.unk_id, "eof_id": self.eof_id}

    @classmethod
    def from_json(cls, raw: dict) -> CharVocabulary:
        return cls(symbols=tuple(raw["symbols"]))
