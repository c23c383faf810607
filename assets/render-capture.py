#!/usr/bin/env python3
"""Render a `tmux capture-pane -e -p` dump (text with SGR color codes) to a PNG.

Used to make the README screenshots from a real run:
    tmux capture-pane -e -p -t =supervisor: > screen.ansi
    python3 assets/render-capture.py screen.ansi assets/screenshot.png
Needs Pillow and the DejaVu Sans Mono font.
"""
import re
import sys

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"
SIZE = 15
BG = (24, 26, 33)
FG = (214, 216, 222)
# The 16 basic colors, as a dark terminal theme draws them.
BASIC = [
    (40, 42, 54), (230, 90, 90), (80, 200, 120), (230, 190, 80),
    (90, 150, 240), (200, 110, 220), (90, 200, 210), (200, 202, 210),
    (110, 114, 130), (255, 120, 120), (120, 230, 150), (250, 215, 110),
    (130, 180, 255), (230, 140, 245), (130, 230, 235), (250, 250, 252),
]


def xterm256(n):
    if n < 16:
        return BASIC[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    v = 8 + (n - 232) * 10
    return (v, v, v)


def parse(line):
    """Yields (text, fg, bg, bold, dim, reverse) runs of one line."""
    fg, bg, bold, dim, rev = None, None, False, False, False
    pos = 0
    for m in re.finditer(r"\x1b\[([0-9;:]*)m", line):
        if m.start() > pos:
            yield line[pos:m.start()], fg, bg, bold, dim, rev
        pos = m.end()
        codes = [int(c) if c else 0 for c in re.split(r"[;:]", m.group(1))] or [0]
        i = 0
        while i < len(codes):
            c = codes[i]
            if c == 0:
                fg, bg, bold, dim, rev = None, None, False, False, False
            elif c == 1:
                bold = True
            elif c == 2:
                dim = True
            elif c == 22:
                bold = dim = False
            elif c == 7:
                rev = True
            elif c == 27:
                rev = False
            elif 30 <= c <= 37:
                fg = BASIC[c - 30]
            elif 90 <= c <= 97:
                fg = BASIC[c - 90 + 8]
            elif 40 <= c <= 47:
                bg = BASIC[c - 40]
            elif 100 <= c <= 107:
                bg = BASIC[c - 100 + 8]
            elif c == 39:
                fg = None
            elif c == 49:
                bg = None
            elif c in (38, 48) and i + 1 < len(codes):
                if codes[i + 1] == 5 and i + 2 < len(codes):
                    col = xterm256(codes[i + 2])
                    i += 2
                elif codes[i + 1] == 2 and i + 4 < len(codes):
                    col = tuple(codes[i + 2:i + 5])
                    i += 4
                else:
                    col = None
                if c == 38:
                    fg = col
                else:
                    bg = col
            i += 1
    if pos < len(line):
        yield line[pos:], fg, bg, bold, dim, rev


def main(src, dst):
    lines = open(src, encoding="utf-8", errors="replace").read().rstrip("\n").split("\n")
    font = ImageFont.truetype(FONT, SIZE)
    bold_font = ImageFont.truetype(BOLD, SIZE)
    cw = round(font.getlength("M"))
    ch = SIZE + 4
    cols = max(sum(len(t) for t, *_ in parse(line)) for line in lines)
    pad = 14
    img = Image.new("RGB", (cols * cw + 2 * pad, len(lines) * ch + 2 * pad), BG)
    draw = ImageDraw.Draw(img)
    for row, line in enumerate(lines):
        x = 0
        for text, fg, bg, bold, dim, rev in parse(line):
            f, b = fg or FG, bg
            if rev:
                f, b = (bg or BG), (fg or FG)
            if dim:
                f = tuple(int(v * 0.55 + BG[k] * 0.45) for k, v in enumerate(f))
            for chx in text:
                px, py = pad + x * cw, pad + row * ch
                if b:
                    draw.rectangle([px, py, px + cw, py + ch], fill=b)
                draw.text((px, py + 1), chx, font=bold_font if bold else font, fill=f)
                x += 1
    img.save(dst)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
