"""A scanned ruled table for the tests: a page drawn at 300 dpi with a heading, a
paragraph and a ruled table (one merged cell, one two-line cell), slightly rotated,
blurred and speckled as a photocopy is, saved as an image-only PDF."""

from __future__ import annotations

import random
from pathlib import Path

HEADER = ["Unité", "Effectif", "Crédits (F)", "Garnison"]
ROWS = [
    ["2e régiment de dragons", "812", "1 245 000", "Laon"],
    ["3e régiment d'artillerie", "640", "2 310 500", "Canjuers"],
    ["Base aérienne 113", "1 902", "4 870 000", "Saint-Dizier"],
    ["Groupement de soutien", "355", "780 250", "Metz"],
    ["Escadron de transport", "228", "1 090 000", "Orléans"],
]
# The last row's first two cells are one merged cell, read into both columns.
MERGED = ["Total des unités", "Total des unités", "9 295 750", "—"]
TWO_LINE_ROW = 2  # this row's first cell is written on two lines


def _font(size: int):  # noqa: ANN202 - a PIL font
    from PIL import ImageFont

    fonts = Path("/usr/share/fonts/truetype")
    for candidate in (
        fonts / "dejavu/DejaVuSerif.ttf",
        fonts / "liberation/LiberationSerif-Regular.ttf",
    ):
        if candidate.exists():
            return ImageFont.truetype(candidate, size)
    return ImageFont.load_default(size=size)


def make_scanned_table(path: Path, seed: int = 7) -> list[list[str]]:
    """Write the page to `path` (PDF); return the table's rows as drawn, header first."""
    from PIL import Image, ImageDraw, ImageFilter

    width, height, dpi = 2480, 3508, 300
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    body, small = _font(46), _font(40)
    draw.text((220, 260), "ÉTAT DES UNITÉS DE LA RÉGION MILITAIRE", font=body, fill=0)
    draw.text((220, 380), "Les effectifs et les crédits de l'année 1986 sont les suivants.",
              font=small, fill=0)  # fmt: skip
    columns = [220, 1000, 1400, 1800, 2260]
    top, row_height = 560, 150
    rows = [HEADER, *ROWS, MERGED]
    for r, row in enumerate(rows):
        y0 = top + r * row_height
        for c, text in enumerate(row):
            if r == len(rows) - 1 and c == 1:
                continue  # covered by the merged cell
            x0 = columns[c]
            if r == TWO_LINE_ROW + 1 and c == 0:  # header is row 0
                first, second = text.rsplit(" ", 1)
                draw.text((x0 + 20, y0 + 18), first, font=small, fill=0)
                draw.text((x0 + 20, y0 + 76), second, font=small, fill=0)
            else:
                draw.text((x0 + 20, y0 + 50), text, font=small, fill=0)
    bottom = top + len(rows) * row_height
    for r in range(len(rows) + 1):
        draw.line([(columns[0], top + r * row_height), (columns[-1], top + r * row_height)],
                  fill=0, width=4)  # fmt: skip
    for c, x in enumerate(columns):
        # The merged cell of the last row has no line between its two columns.
        end = bottom - row_height if c == 1 else bottom
        draw.line([(x, top), (x, end)], fill=0, width=4)
    # A photocopy: a little rotation, blur and speckle.
    page = page.rotate(0.3, resample=Image.Resampling.BICUBIC, fillcolor=255)
    page = page.filter(ImageFilter.GaussianBlur(1.0))
    noise = random.Random(seed)
    pixels = page.load()
    for _ in range(6_000):
        x, y = noise.randrange(width), noise.randrange(height)
        pixels[x, y] = noise.choice((0, 90))
    page.save(path, "PDF", resolution=dpi)
    return [list(row) for row in rows]
