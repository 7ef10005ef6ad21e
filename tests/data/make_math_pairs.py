"""Write tests/data/math_pairs.jsonl: (gold, answer) pairs of many answer forms, to hold the Math-v0 verifier's
verdicts to math-verify's (tests/test_math_verify.py) and to time symbolic verification (benchmarks/).

    python tests/data/make_math_pairs.py            # rewrites the file; the same seed gives the same pairs

Each line: ``{"kind", "gold", "answer", "math_verify"}``, where ``math_verify`` is plain math-verify's verdict on
``$gold$`` and ``$answer$`` when the file was made (the test recomputes it). Every kind has equal and unequal
pairs, and a few sit on math-verify's edges (float rounding, ``e`` read as Euler's number, empty intervals).
"""

from __future__ import annotations

import json
import logging
import random
from fractions import Fraction
from pathlib import Path

SEED = 20240617
PATH = Path(__file__).with_name("math_pairs.jsonl")


def _frac(value: Fraction) -> str:
    return f"\\frac{{{value.numerator}}}{{{value.denominator}}}"


def integers(rng: random.Random):
    for _ in range(5):
        n = rng.randint(-999, 9999)
        yield n, [f"{n}", f"{n}.0", f"\\frac{{{2 * n}}}{{2}}", f"{n:,}" if abs(n) >= 1000 else f"+{n}"], \
            [f"{n + 1}", f"{-n - 1}", f"{n}.01", f"{n}0"]


def fractions(rng: random.Random):
    for _ in range(6):
        value = Fraction(rng.randint(-40, 40) or 1, rng.randint(2, 30))
        k = rng.randint(2, 5)
        decimal = f"{float(value):.6f}"
        yield _frac(value), [f"\\dfrac{{{value.numerator * k}}}{{{value.denominator * k}}}",
                             f"{value.numerator}/{value.denominator}", decimal,
                             f"\\tfrac{{{value.numerator}}}{{{value.denominator}}}"], \
            [_frac(1 / value) if value != 1 else "2", f"{float(value):.2f}",
             _frac(value + Fraction(1, value.denominator)), f"{value.numerator + 1}/{value.denominator}"]


def decimals(rng: random.Random):
    for _ in range(5):
        value = round(rng.uniform(-500, 500), rng.randint(1, 4))
        yield f"{value}", [f"{value}0", f"{value:.6f}", f"{value}".replace("0.", ".", 1) if abs(value) < 1 else f"{value}00"], \
            [f"{value + 0.001:.4f}", f"{-value}", f"{value * 10}"]
    # around the 6th decimal, where math-verify's binary rounding decides
    yield "0.1234565", ["0.1234565"], ["0.1234575", "0.123456", "0.123457"]
    yield "\\frac{1}{3}", ["0.333333", "0.3333333"], ["0.33", "0.333"]
    yield "0.0000005", ["5 \\times 10^{-7}"], ["0", "0.000001"]
    yield "12345678.1234567", ["12345678.1234567"], ["12345678.1234568", "12345678.12346"]


def radicals(rng: random.Random):
    for _ in range(5):
        k, m = rng.randint(2, 9), rng.choice([2, 3, 5, 6, 7, 10, 11])
        yield f"{k}\\sqrt{{{m}}}", [f"\\sqrt{{{k * k * m}}}", f"\\sqrt{{{m}}} \\cdot {k}", f"{k} \\sqrt{m}"], \
            [f"{k + 1}\\sqrt{{{m}}}", f"\\sqrt{{{k * m}}}", f"{k}\\sqrt{{{m + 1}}}"]
    yield "\\frac{\\sqrt{2}}{2}", ["\\frac{1}{\\sqrt{2}}", "2^{-1/2}"], ["\\sqrt{2}", "\\frac{\\sqrt{3}}{2}"]
    yield "\\sqrt[3]{8}", ["2"], ["3"]


def constants(rng: random.Random):
    for _ in range(5):
        k = rng.randint(2, 12)
        yield f"\\frac{{\\pi}}{{{k}}}", [f"\\pi/{k}", f"\\frac{{1}}{{{k}}}\\pi"], [f"\\frac{{\\pi}}{{{k + 1}}}", f"{k}\\pi"]
    yield "e^{2}", ["e^2", "\\exp(2)"], ["2e", "e^{3}"]
    yield "\\log_2 8", ["3"], ["4"]
    yield "\\ln(e^3)", ["3"], ["e^3"]
    yield "\\sin(\\frac{\\pi}{6})", ["\\frac{1}{2}"], ["\\frac{\\sqrt{3}}{2}"]


def intervals(rng: random.Random):
    for _ in range(6):
        a = rng.randint(-20, 20)
        b = a + rng.randint(1, 15)
        left, right = rng.choice("(["), rng.choice(")]")
        gold = f"{left}{a},{b}{right}"
        other_left = "[" if left == "(" else "("
        yield gold, [f"{left}{a}, {b}{right}", f"\\left{left} {a}, {b} \\right{right}"], \
            [f"{other_left}{a},{b}{right}", f"{left}{a},{b + 1}{right}", f"{left}{a - 1},{b}{right}"]
    yield "[0,\\infty)", ["[0, \\infty)", "[0,\\infty]"], ["(0,\\infty)", "[1,\\infty)"]
    yield "(-\\infty,2)", ["(-\\infty, 2)"], ["(-\\infty,2]", "(2,\\infty)"]
    yield "(3,1)", ["(5,2)"], ["(1,3)"]  # empty intervals: sympy makes both the empty set
    yield "(1,2) \\cup (3,4)", ["(3,4) \\cup (1,2)"], ["(1,2) \\cup (3,5)"]
    yield "x > 2", ["(2, \\infty)", "2 < x"], ["[2, \\infty)", "x \\ge 2"]


def sets(rng: random.Random):
    for _ in range(5):
        elements = rng.sample(range(-9, 20), rng.randint(2, 5))
        shuffled = elements[:]
        rng.shuffle(shuffled)
        gold = "\\{" + ",".join(map(str, elements)) + "\\}"
        yield gold, ["\\{" + ", ".join(map(str, shuffled)) + "\\}", ", ".join(map(str, shuffled)),
                     "\\left\\{" + ",".join(map(str, elements + elements[:1])) + "\\right\\}"], \
            ["\\{" + ",".join(map(str, elements[:-1])) + "\\}", "\\{" + ",".join(map(str, elements + [99])) + "\\}",
             "\\{" + ",".join(str(e + 1) for e in elements) + "\\}"]
    yield "\\{1,000\\}", ["\\{0, 1\\}"], ["\\{1000\\}", "1000"]
    yield "\\{\\frac{1}{2}, 3\\}", ["\\{3, 0.5\\}"], ["\\{3, 0.25\\}"]
    yield "\\emptyset", ["\\varnothing", "\\{\\}"], ["\\{0\\}"]


def tuples(rng: random.Random):
    for _ in range(5):
        a, b = rng.sample(range(-9, 10), 2)
        yield f"({a},{b})", [f"({a}, {b})", f"\\left({a},{b}\\right)"], [f"({b},{a})", f"({a},{b + 20})"]
    yield "(1,2,3)", ["(1, 2, 3)"], ["(3,2,1)", "(1,2)"]


def matrices(rng: random.Random):
    for _ in range(4):
        a, b, c, d = (rng.randint(-9, 9) for _ in range(4))
        gold = f"\\begin{{pmatrix}}{a}&{b}\\\\{c}&{d}\\end{{pmatrix}}"
        yield gold, [f"\\begin{{bmatrix}}{a}&{b}\\\\{c}&{d}\\end{{bmatrix}}",
                     f"\\begin{{pmatrix}} {a} & {b} \\\\ {c} & {d} \\end{{pmatrix}}"], \
            [f"\\begin{{pmatrix}}{b}&{a}\\\\{c}&{d}\\end{{pmatrix}}", f"\\begin{{pmatrix}}{a}&{c}\\\\{b}&{d + 1}\\end{{pmatrix}}"]
    yield "\\begin{pmatrix}1\\\\2\\end{pmatrix}", ["\\begin{pmatrix}1 \\\\ 2\\end{pmatrix}"], ["\\begin{pmatrix}2\\\\1\\end{pmatrix}"]


def degrees(rng: random.Random):
    for _ in range(6):
        n = rng.choice([30, 45, 60, 72, 90, 108, 120, 135, 150, 180, 270])
        yield f"{n}^\\circ", [f"{n}", f"{n}^{{\\circ}}", f"{n}°", f"{n}.0^\\circ"], [f"{n + 1}^\\circ", f"{n + 10}", "\\frac{\\pi}{2}" if n == 90 else f"{n}.5"]


def percentages(rng: random.Random):
    for _ in range(5):
        p = rng.choice([5, 10, 12.5, 20, 25, 33, 40, 50, 75, 150, 200])
        text = f"{p}"
        yield f"{text}\\%", [f"{p / 100}", f"{text}", f"{text} \\%"], [f"{p / 1000}", f"{p + 1}\\%", f"{p}.0"]
    yield "50\\%", ["\\frac{1}{2}", "50.0\\%", "1/2"], ["\\frac{1}{4}", "25\\%", "0.5\\%"]
    yield "200\\%", ["2", "2.0"], ["200.0", "20"]
    yield "0.5", ["50\\%"], ["5\\%", "0.5\\%"]
    yield "50", ["50\\%"], ["5\\%"]
    yield "\\frac{3}{4}", ["75\\%"], ["34\\%"]


def scientific(rng: random.Random):
    for _ in range(5):
        m, k = rng.randint(1, 9), rng.randint(-6, 9)
        value = Fraction(m) * Fraction(10) ** k
        plain = f"{value.numerator}" if value.denominator == 1 else f"{float(value):.10f}".rstrip("0")
        yield f"{m} \\times 10^{{{k}}}", [plain, f"{m}\\cdot10^{{{k}}}", f"{m * 10} \\times 10^{{{k - 1}}}"], \
            [f"{m} \\times 10^{{{k + 1}}}", f"{m + 1}\\times10^{{{k}}}"]
    yield "1.5 \\times 10^{3}", ["1500", "1.5\\cdot10^3"], ["150", "1.5 \\times 10^{4}"]
    yield "6.02 \\times 10^{23}", ["6.02\\times10^{23}"], ["602000000000000000000000", "6.02e23"]
    yield "2000", ["2e3", "2 \\times 10^3"], ["2e4"]  # math-verify reads 2e3 as 2*e*3
    yield "10^{3}", ["1000", "10^3"], ["100"]


def expressions(rng: random.Random):
    for _ in range(5):
        a, b = rng.randint(1, 9), rng.randint(1, 9)
        yield f"x^2 + {a + b}x + {a * b}", [f"(x+{a})(x+{b})", f"{a * b} + {a + b}x + x^2"], \
            [f"(x+{a})(x-{b})", f"x^2 + {a + b}x + {a * b + 1}"]
        yield f"\\frac{{{a}x}}{{{b}}}", [f"{a}x/{b}", f"\\frac{{{a}}}{{{b}}}x"], [f"\\frac{{{b}x}}{{{a}}}" if a != b else "2x", f"{a}x"]
    yield "2x+1", ["1+2x"], ["2x-1", "2y+1"]
    yield "\\frac{x+1}{x-1}", ["\\frac{1+x}{-1+x}"], ["\\frac{x-1}{x+1}"]
    yield "a^2 - b^2", ["(a-b)(a+b)"], ["(a-b)^2"]
    yield "3+2i", ["2i+3"], ["3-2i"]


def equations(rng: random.Random):
    for variable in "xyzntkab":
        n = rng.randint(-30, 30)
        yield f"{variable}={n}", [f"{n}", f"{variable} = {n}.0"], [f"{n + 1}", f"{variable}={n + 1}"]
        yield f"{n}", [f"{variable} = {n}"], [f"{variable}={n - 2}"]
    yield "x=3", ["3"], ["y=3", "e=3"]
    yield "e=3", ["3"], ["e=4"]
    yield "i=2", ["2"], ["3"]
    yield "y = 2x + 1", ["y = 1 + 2x"], ["y = 2x - 1"]
    yield "x=2", ["x=2, x=3"], ["x \\in \\{2,3\\}"]


def texts(rng: random.Random):
    for letter, other in zip("ABCDE", "BCDEA"):
        yield f"\\text{{({letter})}}", [letter, f"({letter})"], [other, f"\\text{{({other})}}"]
    yield "\\text{Monday}", ["Monday", "\\text{monday}"], ["\\text{Tuesday}"]
    yield "\\infty", ["\\infty"], ["-\\infty", "\\text{undefined}"]


def listings(rng: random.Random):
    """Several candidates in one answer: a set, never the one number that is the gold."""
    for _ in range(4):
        n = rng.randint(1, 50)
        yield f"{n}", [], [f"{n - 1}, {n}, {n + 1}", f"{n} \\text{{ or }} {n + 1}", f"\\{{{n}, {n + 1}\\}}",
                           f"[{n - 1}, {n + 1}]", f"x = {n}, x = {n + 1}", f"\\pm {n}"]
    yield "\\{1,2\\}", ["1 \\text{ or } 2", "2, 1"], ["\\{1,2,3\\}", "1"]


KINDS = [integers, fractions, decimals, radicals, constants, intervals, sets, tuples, matrices, degrees, percentages,
         scientific, expressions, equations, texts, listings]


def pairs(seed: int = SEED) -> list[dict]:
    """The pairs of the file (another ``seed``: other pairs of the same kinds, e.g. to warm a verifier up)."""
    rng = random.Random(seed)
    seen, rows = set(), []
    for kind in KINDS:
        for gold, equal, unequal in kind(rng):
            for answer in [*equal, *unequal]:
                gold_text, answer_text = str(gold), str(answer)
                if (gold_text, answer_text) not in seen:
                    seen.add((gold_text, answer_text))
                    rows.append({"kind": kind.__name__, "gold": gold_text, "answer": answer_text})
    return rows


def main() -> None:
    from math_verify import parse, verify

    logging.disable(logging.WARNING)
    rows = pairs()
    for row in rows:
        row["math_verify"] = bool(verify(parse(f"${row['gold']}$"), parse(f"${row['answer']}$")))
    with PATH.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    equal = sum(row["math_verify"] for row in rows)
    print(f"{len(rows)} pairs ({equal} equal, {len(rows) - equal} not) in {PATH}")


if __name__ == "__main__":
    main()
