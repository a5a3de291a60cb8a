"""The synthetic captioned scenes: deterministic, held-out colour-shape pairs, captions true to the pixels."""

import numpy as np
import pytest

from seq2seq.perception.scenes import COLORS, HELD_OUT, SHAPES, SIZES, draw, scenes


def test_the_same_seed_draws_the_same_scenes():
    first, again, other = scenes("train", 40, seed=1), scenes("train", 40, seed=1), scenes("train", 40, seed=2)
    assert first == again and first != other
    assert all(np.array_equal(draw(a), draw(b)) for a, b in zip(first, again))
    assert scenes("valid", 40, seed=1) != first  # each split draws its own scenes


def test_held_out_pairs_appear_only_in_the_test_split():
    held = {f"{color} {shape}" for color, shape in HELD_OUT}
    for split in ("train", "valid"):
        assert not any(pair in scene.caption for scene in scenes(split, 400) for pair in held)
    test = scenes("test", 200)
    assert all(any(pair in scene.caption for pair in held) for scene in test)
    assert {pair for scene in test for pair in held if pair in scene.caption} == held  # every pair is tested


def test_captions_vary():
    # Training captions: 8 x 7 / 2 unordered colour-shape pairs (named in the fixed order) x 2 x 2 sizes
    # x 4 relations = 448 possible; 500 draws are expected to hit about 448 * (1 - exp(-500 / 448)) = 301.
    captions = [scene.caption for scene in scenes("train", 500)]
    assert len(set(captions)) > 260
    assert captions[0].startswith("a ") and any(" above a " in caption for caption in captions)


def _mask(image, color):
    return np.all(image == np.array(COLORS[color], np.uint8), axis=-1)


@pytest.mark.parametrize("split", ["train", "test"])
def test_the_caption_says_what_the_image_shows(split):
    for scene in scenes(split, 60, seed=5):
        image = draw(scene)
        assert image.shape == (64, 64, 3) and image.dtype == np.uint8
        for thing in (scene.first, scene.second):
            assert _mask(image, thing.color)[thing.y, thing.x], scene.caption  # its colour at its centre
            half = SIZES[thing.size]
            box = _mask(image, thing.color)[thing.y - half : thing.y + half + 1, thing.x - half : thing.x + half + 1]
            fill = box.mean()  # a square fills its box, a circle about pi/4 of it, a triangle about half
            expected = {"square": (0.9, 1.0), "circle": (0.65, 0.85), "triangle": (0.4, 0.62)}[thing.shape]
            assert expected[0] <= fill <= expected[1], (scene.caption, thing.shape, fill)
        a, b = scene.first, scene.second
        holds = {"to the left of": a.x < b.x, "to the right of": a.x > b.x, "above": a.y < b.y, "below": a.y > b.y}[
            scene.relation
        ]
        assert holds, scene.caption


def test_each_scene_has_one_caption_objects_named_by_colour_then_shape():
    rank = {(color, shape): (list(COLORS).index(color), SHAPES.index(shape)) for color in COLORS for shape in SHAPES}
    for split in ("train", "test"):
        for scene in scenes(split, 300, seed=2):
            first, second = scene.first, scene.second
            assert rank[first.color, first.shape] < rank[second.color, second.shape], scene.caption
