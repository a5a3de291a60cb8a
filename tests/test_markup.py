"""Inline markup: parsing and its errors, placement that is always well-formed, and the command and API."""

import random

import pytest
from helpers import one_error, run

from seq2seq.errors import UserError
from seq2seq.translation.markup import parse, restore


def elements(line: str) -> list[str]:
    """Every start tag and placeholder of a well-formed line, in order (parse raises when it is not)."""
    found = []

    def walk(element):
        for child in element.children:
            found.append(child.start_text)
            walk(child)

    walk(parse(line)[1])
    return sorted(found)


def identity(text: str):
    return [(i, i) for i in range(len(text.split()))]


@pytest.mark.parametrize(
    ("line", "plain"),
    [
        ("Das <b>Haus</b> ist klein.", "Das Haus ist klein."),
        ("<b>Das <i>Haus</i></b> ist", "Das Haus ist"),
        ('Ein <a href="x?a=1&amp;b=2" title="a > b">Link</a>.', "Ein Link."),
        ("A &amp; B &lt; C", "A & B < C"),
        ("Zeile<br/>zwei<br>drei", "Zeile zwei drei"),
        ("Hallo {name}, heute", "Hallo , heute"),
        ("<b></b>leer", "leer"),
        ("a <!-- note --> b", "a b"),
    ],
)
def test_parse_takes_the_tags_out(line, plain):
    text, _ = parse(line)
    assert " ".join(text.split()) == plain


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("<b><i>x</b></i>", "</b> closes the open <i>"),
        ("x</b>", "</b> closes no open element"),
        ("<b>x", "<b> is never closed"),
    ],
)
def test_tags_that_do_not_nest_are_an_error_naming_the_line(line, message):
    with pytest.raises(UserError, match=f"line 7: {message}"):
        parse(line, "line 7")


def test_tags_go_around_the_aligned_words_with_attributes_unchanged():
    line = 'Das <b>Haus</b> ist <a href="x?a=1&amp;b=2" title="a > b">sehr klein</a>.'
    text, root = parse(line)
    # the words: Das Haus ist sehr klein . -> The house is very small .
    output = restore(text, root, "The house is very small .", identity(text))
    assert output == 'The <b>house</b> is <a href="x?a=1&amp;b=2" title="a > b">very small</a> .'


def test_placement_follows_the_alignment_not_the_order():
    text, root = parse("<i>Gestern</i> kam <b>er</b>")
    output = restore(text, root, "he came yesterday", [(0, 2), (1, 1), (2, 0)])
    assert output == "<b>he</b> came <i>yesterday</i>"


def test_text_is_escaped_and_empty_elements_and_placeholders_kept():
    text, root = parse("A &amp; B<br/>{name} C")
    output = restore(text, root, "A & B X C", identity(text))
    assert output.startswith("A &amp; B <br/>")
    assert elements(output) == ["<br/>", "{name}"]


def test_unaligned_and_crossing_tags_are_kept_well_formed():
    text, root = parse("<b>eins <i>zwei</i></b> <u>drei</u> <s>vier</s>")
    output = restore(text, root, "one two three four", [(1, 3), (2, 0)])  # i crosses out of b; s unaligned
    assert elements(output) == ["<b>", "<i>", "<s>", "<u>"]


def test_random_markup_and_alignments_always_give_well_formed_lines_with_every_element():
    rng = random.Random(0)
    for _ in range(300):
        words = [f"w{i}" for i in range(rng.randint(1, 8))]
        line, stack = [], []
        for word in words:
            for _ in range(rng.randint(0, 2)):
                if stack and rng.random() < 0.5:
                    line.append(f"</{stack.pop()}>")
                else:
                    tag = rng.choice("biu")
                    stack.append(tag)
                    line.append(f'<{tag} class="c>{len(line)}">')
            if rng.random() < 0.2:
                line.append(rng.choice(["<br/>", "{x}"]))
            line.append(f" {word} ")
        line += [f"</{tag}>" for tag in reversed(stack)]
        marked = "".join(line)
        text, root = parse(marked)
        target = [f"t{i}" for i in range(rng.randint(0, 9))]
        pairs = [(rng.randrange(len(words)), rng.randrange(len(target))) for _ in range(rng.randint(0, 6)) if target]
        output = restore(text, root, " ".join(target), pairs)
        assert elements(output) == elements(marked), (marked, pairs, output)
        assert [w for w in parse(output)[0].split()] == target


def test_translate_markup_keeps_every_tag_around_the_plain_translation(toy_translation_dir, tmp_path, capsys):
    marked, plain = tmp_path / "marked.de", tmp_path / "plain.de"
    marked.write_text('ein <b>hund</b> läuft im <a href="p?q=1&amp;r">park</a> .\nzwei kinder<br/>spielen .\n')
    plain.write_text("ein hund läuft im park .\nzwei kinder spielen .\n")
    code, out, err = run(capsys, "translate", "--model", toy_translation_dir, "--markup", marked)
    assert code == 0, err
    code, expected, _ = run(capsys, "translate", "--model", toy_translation_dir, plain)
    lines = out.splitlines()
    assert elements(lines[0]) == ['<a href="p?q=1&amp;r">', "<b>"] and elements(lines[1]) == ["<br/>"]
    assert [parse(line)[0].split() for line in lines] == [line.split() for line in expected.splitlines()]


def test_markup_that_does_not_nest_names_file_and_line(toy_translation_dir, tmp_path, capsys):
    source = tmp_path / "bad.de"
    source.write_text("ein hund .\n<b>ein <i>hund</b></i>\n")
    code, _, err = run(capsys, "translate", "--model", toy_translation_dir, "--markup", source)
    assert code == 2
    assert f"{source}, line 2: </b> closes the open <i>" in one_error(err)


def test_an_element_that_left_the_punctuation_out_closes_before_it():
    text, root = parse("Sind Sie <b>Tom</b>? Ja, <i>{name}</i>.")
    output = restore(text, root, "Are you Tom? Yes, X.", identity(text))
    assert output.startswith("Are you <b>Tom</b>? Yes,")
    assert "<i>{name}</i>" in output.replace(" X", "")  # a placeholder is never cut


def test_comments_are_kept_not_dropped():
    text, root = parse("eins <!-- keep me --> zwei")
    assert restore(text, root, "one two", identity(text)) == "one <!-- keep me -->two"
