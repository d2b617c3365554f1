"""A stand-in for PyPI's `bitmap` package, which tini's run_inner_tests.py
imports for one check (Debian has no package of it, and this machine reaches
no other registry). It offers exactly what that script calls:
BitMap.fromstring(bits) with the last character as bit 0, and nonzero().
"""


class BitMap:
    def __init__(self, bits):
        self._bits = bits  # an int; bit n set <=> position n is 1

    @classmethod
    def fromstring(cls, text):
        if text.strip("01"):
            raise ValueError("not a bit string: %r" % text)
        return cls(int(text, 2) if text else 0)

    def nonzero(self):
        return [n for n in range(self._bits.bit_length()) if self._bits >> n & 1]
