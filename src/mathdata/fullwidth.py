"""Full-width forms -> ASCII, shared by text normalisation and answer extraction (stdlib only)."""

# U+FF01..U+FF5E are the full-width twins of ASCII 0x21..0x7E; U+3000 is the ideographic space.
FULLWIDTH = [chr(c) for c in range(0xFF01, 0xFF5F)] + ["\u3000"]
ASCII = [chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)] + [" "]
TABLE = str.maketrans(dict(zip(FULLWIDTH, ASCII)))
