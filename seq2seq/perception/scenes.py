"""A synthetic captioned-image corpus: two coloured shapes and where one is relative to the other.

No captioned photo corpus can be fetched on this project's machines, so
the image-captioning task (issue 14) trains on generated scenes, the way
CLEVR and Shapes datasets are built. Each image (64 x 64 RGB, white
background) holds two objects; the caption names both and their relation:

    "a small red circle to the left of a large blue square"

- shapes: circle, square, triangle; colours: red, green, blue, yellow;
  sizes: small, large; relations: to the left of, to the right of, above,
  below (of the first object's centre to the second's);
- the two objects differ in shape or colour, and the caption names them
  in a fixed order, by colour (red, green, blue, yellow) and, for two of
  one colour, by shape (circle, square, triangle): each scene has exactly
  one caption (without the rule, "a red circle above a blue square" and
  "a blue square below a red circle" would both be right);
- **held-out combinations**: the colour-shape pairs of `HELD_OUT` never
  appear in the training or validation split; every test scene has at least
  one of them. A model must read colour and shape from the pixels
  separately to caption the test split; no memorised pairing helps.

Everything is deterministic from the seed and the split name: the same
call draws the same pixels and captions on any machine (numpy's PCG64 and
Pillow's rasteriser).
"""

from __future__ import annotations

import dataclasses
import itertools
import zlib

import numpy as np

SIZE = 64  # pixels, square
SHAPES = ("circle", "square", "triangle")
COLORS = {"red": (220, 30, 30), "green": (30, 170, 60), "blue": (40, 60, 220), "yellow": (235, 200, 20)}
SIZES = {"small": 6, "large": 11}  # half-widths in pixels
RELATIONS = ("to the left of", "to the right of", "above", "below")
HELD_OUT = frozenset({("red", "triangle"), ("green", "circle"), ("blue", "square"), ("yellow", "triangle")})
SPLITS = ("train", "valid", "test")


@dataclasses.dataclass(frozen=True)
class Thing:
    shape: str
    color: str
    size: str
    x: int  # centre, pixels
    y: int

    @property
    def words(self) -> str:
        return f"a {self.size} {self.color} {self.shape}"


@dataclasses.dataclass(frozen=True)
class Scene:
    first: Thing
    relation: str
    second: Thing

    @property
    def caption(self) -> str:
        return f"{self.first.words} {self.relation} {self.second.words}"


def _pairs(split: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(colour, shape) pairs allowed for the first and the second object of a scene of `split`."""
    every = list(itertools.product(COLORS, SHAPES))
    seen = [pair for pair in every if pair not in HELD_OUT]
    return (seen, seen) if split != "test" else (every, every)


def _place(rng: np.random.Generator, relation: str, first_half: int, second_half: int) -> tuple[tuple, tuple]:
    """Centres for the two objects so that the relation holds clearly (a gap of at least 4 pixels)."""
    low, high = 2 + max(first_half, second_half), SIZE - 3 - max(first_half, second_half)
    while True:
        a = rng.integers(low, high + 1, size=2)
        b = rng.integers(low, high + 1, size=2)
        along = {
            "to the left of": b[0] - a[0],
            "to the right of": a[0] - b[0],
            "above": b[1] - a[1],
            "below": a[1] - b[1],
        }[relation]
        across = abs(int(a[1] - b[1])) if relation in RELATIONS[:2] else abs(int(a[0] - b[0]))
        if along >= first_half + second_half + 4 and across <= along // 2:
            return (int(a[0]), int(a[1])), (int(b[0]), int(b[1]))


def sample_scene(rng: np.random.Generator, split: str) -> Scene:
    """One scene of `split` (see the module doc for what each split may hold)."""
    first_pairs, second_pairs = _pairs(split)
    while True:
        first = first_pairs[rng.integers(len(first_pairs))]
        second = second_pairs[rng.integers(len(second_pairs))]
        if first == second:
            continue
        if split == "test" and first not in HELD_OUT and second not in HELD_OUT:
            continue
        break
    first, second = sorted((first, second), key=lambda pair: (list(COLORS).index(pair[0]), SHAPES.index(pair[1])))
    sizes = [list(SIZES)[rng.integers(len(SIZES))] for _ in range(2)]
    relation = RELATIONS[rng.integers(len(RELATIONS))]
    (ax, ay), (bx, by) = _place(rng, relation, SIZES[sizes[0]], SIZES[sizes[1]])
    return Scene(Thing(first[1], first[0], sizes[0], ax, ay), relation, Thing(second[1], second[0], sizes[1], bx, by))


def draw(scene: Scene) -> np.ndarray:
    """The scene as a `(64, 64, 3)` uint8 image."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (SIZE, SIZE), (255, 255, 255))
    pen = ImageDraw.Draw(image)
    for thing in (scene.first, scene.second):
        half, color = SIZES[thing.size], COLORS[thing.color]
        box = (thing.x - half, thing.y - half, thing.x + half, thing.y + half)
        if thing.shape == "circle":
            pen.ellipse(box, fill=color)
        elif thing.shape == "square":
            pen.rectangle(box, fill=color)
        else:
            pen.polygon(
                [(thing.x, thing.y - half), (thing.x - half, thing.y + half), (thing.x + half, thing.y + half)],
                fill=color,
            )
    return np.asarray(image, dtype=np.uint8)


def scenes(split: str, count: int, seed: int = 0) -> list[Scene]:
    """`count` scenes of `split`; the same `(split, count, seed)` always gives the same scenes."""
    if split not in SPLITS:
        raise ValueError(f"`split` must be one of {SPLITS}. Received: split={split!r}")
    rng = np.random.Generator(np.random.PCG64([seed, zlib.crc32(split.encode())]))
    return [sample_scene(rng, split) for _ in range(count)]
