"""Draws packaging/engram.png (256x256), the app icon: `python packaging/make_icon.py`.

Kept as code so the icon can be regenerated at other sizes; the PNG is committed, and the
build never runs this. A rounded indigo tile with a small constellation of linked nodes: the
memory an assistant keeps.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw

SIZE = 256
NODES = [(78, 92), (150, 70), (186, 140), (118, 170), (70, 176)]
LINKS = [(0, 1), (1, 2), (2, 3), (3, 0), (3, 4), (0, 4), (1, 3)]


def draw(size: int = SIZE) -> Image.Image:
    scale = 4  # draw large, then downsample: smooth edges without antialiasing support
    big = SIZE * scale
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    pen.rounded_rectangle(
        (8 * scale, 8 * scale, big - 8 * scale, big - 8 * scale),
        radius=48 * scale,
        fill=(48, 52, 140, 255),
    )
    pen.ellipse(
        (40 * scale, 40 * scale, big - 40 * scale, big - 40 * scale), fill=(64, 72, 180, 255)
    )
    points = [(x * scale, y * scale) for x, y in NODES]
    for a, b in LINKS:
        pen.line((points[a], points[b]), fill=(190, 200, 255, 255), width=7 * scale)
    for i, (x, y) in enumerate(points):
        r = (22 if i == 3 else 15) * scale
        fill = (255, 196, 72, 255) if i == 3 else (255, 255, 255, 255)
        pen.ellipse((x - r, y - r, x + r, y + r), fill=fill)
    return image.resize((size, size), Image.Resampling.LANCZOS)


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("engram.png")
    draw().save(out)
    print(f"wrote {out}")
