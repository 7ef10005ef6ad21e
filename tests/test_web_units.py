"""The web environment's pure parts, without Docker: action parser, goto rules, tree formatting, checks, task files."""

from __future__ import annotations

import sqlite3

import pytest

from selfgym.envs.web.actions import Action, ActionError, parse_action, resolve_goto
from selfgym.envs.web.axtree import Viewport, format_tree, layout_boxes
from selfgym.envs.web.checks import AnswerCheck, Check, check_answer, evaluate
from selfgym.envs.web.container import DATABASE_SITES, SITES, open_database, seed_database, site_files
from selfgym.envs.web.miniwob import TASKS as MINIWOB_TASKS
from selfgym.envs.web.miniwob import miniwob_tasks, page_files
from selfgym.envs.web.miniwob_solvers import solver
from selfgym.envs.web.reference import ReferencePolicy, resolve
from selfgym.envs.web.tasks import shipped_tasks, spec_of, task_from_entry


@pytest.mark.parametrize("text, expected", [
    ("click(12)", Action("click", element=12)),
    ("click([12])", Action("click", element=12)),
    ('type(3, "hi (there)\\n")', Action("type", element=3, text="hi (there)\n")),
    ("select(4, 'Express')", Action("select", element=4, text="Express")),
    ('goto("http://shop.localhost:7770/cart")', Action("goto", text="http://shop.localhost:7770/cart")),
    ("goto(http://shop.localhost:7770/a?b=1)", Action("goto", text="http://shop.localhost:7770/a?b=1")),
    ('scroll("UP")', Action("scroll", text="up")),
    ("back()", Action("back")),
    ('answer("it\'s 5)")', Action("answer", text="it's 5)")),
    ("answer(Port Kelwick)", Action("answer", text="Port Kelwick")),
    ("I will click(1) first.\nAction: click(5)", Action("click", element=5)),
    ('Thinking...\n```\ntype(2, "a")\n```\nthen click(9)', Action("type", element=2, text="a")),
])
def test_parse_action_reads_what_models_write(text, expected):
    assert parse_action(text) == expected


@pytest.mark.parametrize("text, message", [
    ("", "No action found"), ("press enter", "No action found"), ("click(a)", "element id"),
    ("click(True)", "element id"), ("type(1)", "takes 2 argument"), ("click(1, x=2)", "keyword"),
    ("scroll(left)", "up or down"), ("answer()", "takes 1 argument"), ("type(1, [1, 2])", "quoted string"),
    ("click(1", "Could not read"),
])
def test_parse_action_explains_what_was_expected(text, message):
    with pytest.raises(ActionError, match=message):
        parse_action(text)


def test_goto_is_limited_to_the_task_sites():
    shop = [SITES["shop"].origin]
    here = "http://shop.localhost:7770/cart"
    assert resolve_goto("/orders", here, shop) == "http://shop.localhost:7770/orders"
    assert resolve_goto("shop.localhost:7770/x", here, shop) == "http://shop.localhost:7770/x"
    for url in ("http://forum.localhost:9999/", "http://shop.localhost:9222/json", "file:///etc/passwd",
                "javascript:alert(1)", "http://user:pw@shop.localhost:7770/", "https://example.com", "",
                "data:text/html,hi", "//evil.example/"):
        with pytest.raises(ActionError):
            resolve_goto(url, here, shop)


def node(node_id, role, name="", children=(), backend=None, parent=None, ignored=False, **extra):
    result = {"nodeId": str(node_id), "role": {"value": role}, "name": {"value": name},
              "childIds": [str(c) for c in children], "ignored": ignored, **extra}
    if backend is not None:
        result["backendDOMNodeId"] = backend
    if parent is not None:
        result["parentId"] = str(parent)
    return result


def test_tree_format_flattens_wrappers_drops_repeated_text_and_shows_states():
    nodes = [
        node(1, "RootWebArea", "Shop", [2, 8], backend=100),
        node(2, "generic", "", [3, 5, 6], backend=101, parent=1),
        node(3, "link", "Laptops", [4], backend=102, parent=2),
        node(4, "StaticText", "Laptops", backend=103, parent=3),
        node(5, "button", "Add to cart", backend=104, parent=2, properties=[
            {"name": "disabled", "value": {"value": True}}]),
        node(6, "textbox", "Quantity", backend=105, parent=2, value={"value": "2"}),
        node(8, "checkbox", "Gift", backend=107, parent=1, properties=[{"name": "checked", "value": {"value": "false"}}]),
    ]
    tree = format_tree(nodes)
    assert tree.text.splitlines() == [
        '[100] RootWebArea "Shop"',
        '  [102] link "Laptops"',
        '  [104] button "Add to cart" disabled',
        '  [105] textbox "Quantity" value="2"',
        '  [107] checkbox "Gift" checked=false',
    ]
    numbered = format_tree(nodes, number={100: 1, 102: 2, 104: 3, 105: 4, 107: 5}.get)
    assert numbered.text.splitlines()[1] == '  [2] link "Laptops"'


def test_tree_format_keeps_to_the_viewport_and_counts_the_rest():
    nodes = [node(1, "RootWebArea", "Page", [2, 3, 4], backend=1)] + [
        node(n, "link", f"Link {n}", backend=n, parent=1) for n in (2, 3, 4)]
    boxes = {1: (0, 0, 800, 3000), 2: (10, 50, 100, 20), 3: (10, 900, 100, 20), 4: (10, 2500, 100, 20)}
    tree = format_tree(nodes, boxes, Viewport(0, 800, 800, 600))
    assert "Link 3" in tree.text and "Link 2" not in tree.text and "Link 4" not in tree.text
    assert (tree.above, tree.below) == (1, 1)
    long = format_tree(nodes, max_chars=40)
    assert long.truncated and "cut" in long.text


def test_layout_boxes_unions_fragments():
    snapshot = {"documents": [{"nodes": {"backendNodeId": [5, 6]},
                               "layout": {"nodeIndex": [0, 1, 1], "bounds": [[0, 0, 10, 10], [0, 20, 5, 5],
                                                                             [10, 30, 5, 5]]}}]}
    assert layout_boxes(snapshot) == {5: (0, 0, 10, 10), 6: (0, 20, 15, 15)}


@pytest.mark.parametrize("check, answer, passed", [
    (AnswerCheck(exact=["Shipped"]), "shipped.", True),
    (AnswerCheck(exact=["Shipped"]), "It has shipped", False),
    (AnswerCheck(must_include=["Port Kelwick", "Vellmar"]), "From Port Kelwick to Vellmar", True),
    (AnswerCheck(must_include=["Port Kelwick", "Vellmar"]), "Port Kelwick", False),
    (AnswerCheck(number=1499), "$1,499.00", True),
    (AnswerCheck(number=4.3), "about 4.3 stars", True),
    (AnswerCheck(number=1499), "1,500", False),
    (AnswerCheck(number=3), "", False),
])
def test_answer_checks(check, answer, passed):
    assert check_answer(check, answer)[0] is passed


def test_check_evaluates_url_and_sql_and_reports_each_part():
    conn = sqlite3.connect(":memory:")
    conn.executescript("CREATE TABLE t (a); INSERT INTO t VALUES (1), (2);")
    data = conn.serialize()
    check = Check.model_validate({"url": r"/orders/\d+", "answer": {"exact": ["done"]},
                                  "sql": [{"db": "shop", "query": "SELECT a FROM t ORDER BY a", "expect": [[1], [2]]}]})
    verdict = evaluate(check, answer="done", url="http://shop.localhost:7770/orders/7", database=lambda _:
                       open_database(data))
    assert verdict.passed and len(verdict.details) == 3
    verdict = evaluate(check, answer="done", url="http://shop.localhost:7770/orders", database=lambda _:
                       open_database(data))
    assert not verdict.passed and any(line.startswith("FAILED: final page") for line in verdict.details)
    with pytest.raises(ValueError):
        Check.model_validate({})


def test_shipped_tasks_are_many_valid_and_varied():
    tasks = list(shipped_tasks())
    assert len(tasks) >= 60 and len({t.id for t in tasks}) == len(tasks)
    specs = [spec_of(t) for t in tasks]
    for category in ("navigation", "information", "state"):
        assert sum(s.category == category for s in specs) >= 10
    for site in DATABASE_SITES:
        assert sum(site in s.sites for s in specs) >= 15
    assert all(s.check.sql for s in specs if s.category == "state")


def test_task_entries_are_validated():
    with pytest.raises(ValueError, match="unknown site"):
        task_from_entry({"id": "x", "prompt": "p", "category": "state", "sites": ["bank"],
                         "check": {"url": "/"}, "reference": ['answer("done")']})
    with pytest.raises(ValueError, match="ends with answer"):
        task_from_entry({"id": "x", "prompt": "p", "category": "state", "sites": ["shop"],
                         "check": {"url": "/"}, "reference": ["click(1)"]})


def test_reference_steps_resolve_against_the_observation():
    observation = 'Goal: x\n[1] RootWebArea "Shop"\n  [7] link "Order #1003"\n  [9] textbox "Say \\"hi\\""\n'
    assert resolve('click(link "Order #1003")', observation) == "click(7)"
    assert resolve('type(textbox "Say \\"hi\\"", "yo")', observation) == 'type(9, "yo")'
    assert resolve('click(button "Nope")', observation) is None
    assert resolve('answer("done")', observation) == 'answer("done")'
    policy = ReferencePolicy(shipped_tasks().get("web/shop-001"), max_scrolls=1)
    assert policy("nothing here") == "scroll(down)"
    with pytest.raises(LookupError):
        policy("still nothing")


def test_seeded_databases_and_site_files():
    for name in DATABASE_SITES:
        assert seed_database(name) == seed_database.__wrapped__(name)  # deterministic bytes
        with open_database(seed_database(name)) as conn:
            assert conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] >= 3
    files = site_files()
    assert {"serve.py", "shop_app.py", "templates/shop/base.html", "static/site.css"} <= set(files)


def test_miniwob_source_has_20_tasks_each_with_a_solver_and_its_page():
    tasks = list(miniwob_tasks())
    pages = page_files()
    assert len(tasks) >= 20 and "core/core.js" in pages
    for name in MINIWOB_TASKS:
        assert f"miniwob/{name}.html" in pages
        assert callable(solver(name))
