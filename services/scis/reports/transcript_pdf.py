"""Transcript pages typeset straight into PDF, added to the WeasyPrint document when it is written.

WeasyPrint lays every line out as CSS boxes: about 3 ms a line here, and it keeps every page's layout
in memory, so a 100,000-event transcript took minutes and hundreds of MB (decision 712). A transcript
is a list of lines, so it is typeset here instead: one monospaced font (DejaVu Sans Mono, embedded and
subset), fixed line height, long lines wrapped at a character count. Each finished page is kept only
as its compressed content stream (a few KB), so memory grows with the PDF's size, not with a layout.
Every character stays extractable: glyphs map back to Unicode (ToUnicode), and a line with a
character the font cannot draw carries its exact text as /ActualText. Page numbers ("n / total")
are drawn here on every page, WeasyPrint's too, so WeasyPrint lays its pages out once.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any

import pydyf

FONT_PATH = Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf")
FONT_NAME = "SCISTR+DejaVuSansMono"
FONT_RESOURCE = "STR"
# A4 in points, as WeasyPrint writes it, and the report's CSS margins (20 mm top/bottom, 16 mm sides).
PAGE_WIDTH, PAGE_HEIGHT = 595.2756, 841.8898
MM = 72 / 25.4
LEFT, TOP, BOTTOM = 16 * MM, 20 * MM, 20 * MM
TEXT_SIZE, LEADING = 7.0, 8.4
HEADING_SIZE = 10.0
MARGIN_TEXT_SIZE = 8.0


@dataclass(frozen=True)
class MonoFont:
    """The glyph ids of the transcript font, as the 4-hex-digit strings a content stream uses."""

    data: bytes
    hex_glyphs: dict[int, str]  # code point -> glyph id in hex
    glyph_ids: dict[str, int]  # character -> glyph id
    advance: float  # width of every glyph, in 1/1000 of the font size
    ascent: int
    descent: int
    bbox: tuple[int, int, int, int]


@lru_cache(maxsize=1)
def mono_font() -> MonoFont:
    from fontTools.ttLib import TTFont

    data = FONT_PATH.read_bytes()
    font = TTFont(BytesIO(data))
    scale = 1000 / font["head"].unitsPerEm
    glyph_ids = {chr(code): font.getGlyphID(name) for code, name in font.getBestCmap().items()}
    head = font["head"]
    return MonoFont(
        data=data,
        hex_glyphs={ord(char): f"{gid:04x}" for char, gid in glyph_ids.items()},
        glyph_ids=glyph_ids,
        advance=font["hmtx"]["space"][0] * scale,
        ascent=round(font["hhea"].ascent * scale),
        descent=round(font["hhea"].descent * scale),
        bbox=(round(head.xMin * scale), round(head.yMin * scale), round(head.xMax * scale), round(head.yMax * scale)),
    )


def columns_for(size: float) -> int:
    """How many characters of the font at `size` fit between the margins."""
    return int((PAGE_WIDTH - 2 * LEFT) / (mono_font().advance * size / 1000))


def wrapped(text: str, width: int, indent: int) -> list[str]:
    """`text` cut into lines of at most `width` characters; continuation lines indented by `indent`."""
    return [line for part in text.splitlines() or [""] for line in cut(part, width, indent)]


def cut(text: str, width: int, indent: int) -> list[str]:
    if len(text) <= width:
        return [text]
    pieces = [text[:width]]
    rest, room = text[width:], max(1, width - indent)
    pieces.extend(" " * indent + rest[start : start + room] for start in range(0, len(rest), room))
    return pieces


def utf16_hex(text: str) -> str:
    return "feff" + text.encode("utf-16-be").hex()


@dataclass
class TranscriptBook:
    """Lines laid onto pages as they come; `attach` puts the pages into WeasyPrint's PDF after its own."""

    header: str
    footer: str
    pages: list[bytes] = field(default_factory=list)  # compressed content stream of each full page
    used: set[str] = field(default_factory=set)  # every character drawn, for the font subset
    current: list[str] = field(default_factory=list)
    y: float = 0.0

    def __post_init__(self) -> None:
        self.font = mono_font()
        self.width = columns_for(TEXT_SIZE)

    @property
    def page_count(self) -> int:
        return len(self.pages) + (1 if self.current else 0)

    def glyphs(self, text: str) -> str:
        """The hex glyph string of `text`, wrapped in /ActualText when the font cannot draw all of it."""
        self.used.update(text)
        encoded = text.translate(self.font.hex_glyphs)
        if len(encoded) == 4 * len(text):
            return f"<{encoded}> Tj"
        drawn = "".join(self.font.hex_glyphs.get(ord(char), "0000") for char in text)
        return f"/Span <</ActualText <{utf16_hex(text)}>>> BDC <{drawn}> Tj EMC"

    def new_page(self) -> None:
        self.finish_page()
        self.y = PAGE_HEIGHT - TOP

    def finish_page(self) -> None:
        if self.current:
            self.pages.append(zlib.compress("\n".join(self.current).encode("ascii"), 6))
            self.current = []

    def draw(self, text: str, size: float, leading: float) -> None:
        if not self.current or self.y - leading < BOTTOM:
            self.new_page()
        self.y -= leading
        self.current.append(f"BT /{FONT_RESOURCE} {size} Tf {LEFT:.2f} {self.y:.2f} Td {self.glyphs(text)} ET")

    def section(self, title: str, subtitle: str, columns: str) -> None:
        """A transcript's title at the top of a fresh page, then its column names."""
        self.new_page()
        for line in wrapped(title, columns_for(HEADING_SIZE), 0):
            self.draw(line, HEADING_SIZE, HEADING_SIZE * 1.4)
        for line in [*wrapped(subtitle, self.width, 0), columns]:
            self.draw(line, TEXT_SIZE, LEADING * 1.3)

    def line(self, text: str, indent: int) -> None:
        if len(text) <= self.width and "\n" not in text and "\r" not in text:
            self.draw(text, TEXT_SIZE, LEADING)  # nearly every line: no wrapping to work out
            return
        for piece in wrapped(text, self.width, indent):
            self.draw(piece, TEXT_SIZE, LEADING)

    def margins(self, number: int, total: int, running: bool) -> bytes:
        """A page's "n / total" at the bottom right and, with `running`, the header and footer as in the CSS."""
        size = MARGIN_TEXT_SIZE
        advance = self.font.advance * size / 1000
        numbering = f"{number} / {total}"
        parts = [(numbering, PAGE_WIDTH - LEFT - advance * len(numbering), BOTTOM / 2)]
        if running:
            parts += [(self.header, LEFT, PAGE_HEIGHT - TOP / 2), (self.footer, LEFT, BOTTOM / 2)]
        ops = ["0.333 g"]
        for text, x, y in parts:
            if text:
                ops.append(f"BT /{FONT_RESOURCE} {size} Tf {x:.2f} {y:.2f} Td {self.glyphs(text)} ET")
        return zlib.compress("\n".join(ops).encode("ascii"), 6)

    def attach(self, pdf: pydyf.PDF) -> None:
        """Number the PDF's own pages and add the transcript pages after them, numbered on."""
        self.finish_page()
        own = [pdf.objects[object_number] for object_number in pdf.pages["Kids"][::3]]
        total = len(own) + len(self.pages)
        numbers = [self.margins(index + 1, total, running=False) for index in range(len(own))]
        margins = [self.margins(len(own) + index + 1, total, running=True) for index in range(len(self.pages))]
        font = self.font_object(pdf)  # after every text is drawn: the subset holds their glyphs
        resources = shared_resources(pdf, own, font)
        save, restore = stream_object(pdf, zlib.compress(b"q")), stream_object(pdf, zlib.compress(b"Q"))
        for page, number in zip(own, numbers, strict=True):
            # WeasyPrint's stream leaves its own transformation in place: draw the number outside it.
            page["Contents"] = pydyf.Array([save.reference, page["Contents"], restore.reference,
                                            stream_object(pdf, number).reference])  # fmt: skip
        for body, margin in zip(self.pages, margins, strict=True):
            streams = [stream_object(pdf, body), stream_object(pdf, margin)]
            page = pydyf.Dictionary({
                "Type": "/Page", "Parent": pdf.pages.reference,
                "MediaBox": pydyf.Array([0, 0, PAGE_WIDTH, PAGE_HEIGHT]),
                "Resources": resources,
                "Contents": pydyf.Array([item.reference for item in streams]),
            })  # fmt: skip
            pdf.add_page(page)
        self.pages = []

    def font_object(self, pdf: pydyf.PDF) -> pydyf.Dictionary:
        """The Type0 font of the characters used, subset to their glyphs (glyph ids kept)."""
        glyph_ids = sorted({0, *(self.font.glyph_ids[char] for char in self.used if char in self.font.glyph_ids)})
        subset = subset_font(self.font.data, glyph_ids)
        file = pydyf.Stream([subset], {"Length1": len(subset)}, compress=True)
        pdf.add_object(file)
        descriptor = pydyf.Dictionary({
            "Type": "/FontDescriptor", "FontName": f"/{FONT_NAME}", "Flags": 33,
            "FontBBox": pydyf.Array(self.font.bbox), "ItalicAngle": 0, "Ascent": self.font.ascent,
            "Descent": self.font.descent, "CapHeight": self.font.ascent, "StemV": 80,
            "FontFile2": file.reference,
        })  # fmt: skip
        pdf.add_object(descriptor)
        cid_font = pydyf.Dictionary({
            "Type": "/Font", "Subtype": "/CIDFontType2", "BaseFont": f"/{FONT_NAME}",
            "CIDSystemInfo": pydyf.Dictionary({"Registry": pydyf.String("Adobe"),
                                               "Ordering": pydyf.String("Identity"), "Supplement": 0}),
            "FontDescriptor": descriptor.reference, "DW": round(self.font.advance), "CIDToGIDMap": "/Identity",
        })  # fmt: skip
        pdf.add_object(cid_font)
        to_unicode = pydyf.Stream([to_unicode_cmap(self.font.glyph_ids, self.used)], compress=True)
        pdf.add_object(to_unicode)
        font = pydyf.Dictionary({
            "Type": "/Font", "Subtype": "/Type0", "BaseFont": f"/{FONT_NAME}", "Encoding": "/Identity-H",
            "DescendantFonts": pydyf.Array([cid_font.reference]), "ToUnicode": to_unicode.reference,
        })  # fmt: skip
        pdf.add_object(font)
        return font


def object_of(pdf: pydyf.PDF, reference: Any) -> Any:
    """The object an indirect reference ("12 0 R") names."""
    text = reference.decode() if isinstance(reference, bytes) else str(reference)
    return pdf.objects[int(text.split()[0])]


def shared_resources(pdf: pydyf.PDF, own: list[pydyf.Dictionary], font: pydyf.Dictionary) -> Any:
    """The resources WeasyPrint's pages share, with the transcript font added (a reference to them)."""
    if not own:
        resources = pydyf.Dictionary({"Font": pydyf.Dictionary({FONT_RESOURCE: font.reference})})
        pdf.add_object(resources)
        return resources.reference
    resources = object_of(pdf, own[0]["Resources"])
    fonts = resources.get("Font")
    if fonts is None:
        resources["Font"] = pydyf.Dictionary({FONT_RESOURCE: font.reference})
    else:
        object_of(pdf, fonts)[FONT_RESOURCE] = font.reference
    return own[0]["Resources"]


def stream_object(pdf: pydyf.PDF, compressed: bytes) -> pydyf.Stream:
    stream = pydyf.Stream([compressed], {"Filter": "/FlateDecode"})
    pdf.add_object(stream)
    return stream


def subset_font(data: bytes, glyph_ids: list[int]) -> bytes:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    options = subset.Options()
    options.retain_gids = True  # the content streams name glyphs by their id in the full font
    options.notdef_outline = True
    options.layout_features = []
    options.name_IDs = ["*"]
    options.drop_tables += ["FFTM"]  # FontForge's timestamps: not needed, and fontTools warns on each report
    font = TTFont(BytesIO(data))
    subsetter = subset.Subsetter(options)
    subsetter.populate(gids=glyph_ids)
    subsetter.subset(font)
    out = BytesIO()
    font.save(out)
    return out.getvalue()


def to_unicode_cmap(glyph_ids: dict[str, int], used: set[str]) -> str:
    """The CMap that turns each drawn glyph id back into its character (text extraction, search)."""
    pairs = sorted({glyph_ids[char]: char for char in used if char in glyph_ids}.items())
    blocks = []
    for start in range(0, len(pairs), 100):
        chunk = pairs[start : start + 100]
        entries = "\n".join(f"<{gid:04x}> <{char.encode('utf-16-be').hex()}>" for gid, char in chunk)
        blocks.append(f"{len(chunk)} beginbfchar\n{entries}\nendbfchar")
    return (
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        "1 begincodespacerange\n<0000> <ffff>\nendcodespacerange\n"
        + "\n".join(blocks)
        + "\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend"
    )


def finisher(book: TranscriptBook) -> Any:
    """WeasyPrint's finisher hook: the transcript pages join its PDF before the trailer is written."""

    def finish(document: Any, pdf: pydyf.PDF) -> None:
        book.attach(pdf)

    return finish
