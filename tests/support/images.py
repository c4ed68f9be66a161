"""Pictures the tests upload: a floor plan as a real PNG, drawn with Pillow."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw


def floor_plan_png(width: int = 800, height: int = 500, label: str = "",
                   background: tuple[int, int, int] = (40, 48, 60)) -> bytes:
    """A floor plan of ``width`` × ``height`` pixels: outer walls, one inner wall down the middle and
    ``label`` in the corner. A different size, label or background makes a different file."""
    image = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(image)
    inset = max(1, min(40, width // 10, height // 10))
    draw.rectangle((inset, inset, width - inset, height - inset), outline=(200, 210, 220), width=max(1, inset // 5))
    draw.line((width // 2, inset, width // 2, height - inset), fill=(150, 160, 170), width=max(1, inset // 7))
    if label:
        draw.text((inset + 20, inset + 20), label, fill=(230, 230, 230))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
