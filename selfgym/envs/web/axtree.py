"""The accessibility tree as compact text: ``[12] button "Add to cart"``, indented by nesting.

Input is Chromium's own accessibility tree (CDP ``Accessibility.getFullAXTree``), so roles and names are what a
screen reader would announce. Each element is keyed by its ``backendDOMNodeId`` (stable while the element lives, gone when
the page is replaced) and shown under a small number that ``number`` gives it: the browser numbers elements in
the order it first shows them in an episode, so ids stay the same across observations, a stale id is detectable,
and the same episode replayed shows the same text.

Only what is in the viewport is shown (layout boxes from ``DOMSnapshot.captureSnapshot``), as in WebArena;
``scroll`` moves the viewport, and the text says how many elements lie above or below it. Wrappers without a name
(``generic``, ``paragraph``, table cells, ...) are flattened, text that repeats its parent's name is dropped, and
the whole is cut at ``max_chars``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Roles never shown, with everything under them.
SKIPPED_ROLES = frozenset({"InlineTextBox", "ListMarker", "LineBreak"})
# Unnamed wrappers whose children are shown in their place.
FLATTENED_ROLES = frozenset({
    "generic", "none", "presentation", "paragraph", "Section", "LayoutTable", "LayoutTableRow", "LayoutTableCell",
    "list", "listitem", "cell", "gridcell", "MenuListPopup", "group", "rowgroup", "main", "banner", "contentinfo",
    "WebArea", "superscript", "subscript", "emphasis", "strong", "time", "abbr", "LabelText", "Iframe",
})
# Wrappers never shown even with a name: a table cell's name is its text, which its children show anyway.
ALWAYS_FLATTENED_ROLES = frozenset({"cell", "gridcell"})
# Controls a <label> names: the label's own text is dropped when a control carries it as its name.
LABELLED_ROLES = frozenset({"textbox", "searchbox", "combobox", "spinbutton", "slider", "checkbox", "radio",
                            "switch", "listbox"})
VALUE_ROLES = frozenset({"textbox", "searchbox", "combobox", "spinbutton", "slider", "ComboBoxMenuButton"})
SHOWN_STATES = ("checked", "selected", "expanded", "disabled", "focused", "multiline")

Box = tuple[float, float, float, float]  # x, y, width, height in page coordinates


@dataclass(frozen=True)
class Viewport:
    """The visible rectangle of the page, in page coordinates."""

    x: float
    y: float
    width: float
    height: float

    def relation(self, box: Box) -> int:
        """-1 when ``box`` lies above the viewport, 1 below (or right of) it, 0 when the two overlap."""
        x, y, width, height = box
        if y + max(height, 1) <= self.y:
            return -1
        if y >= self.y + self.height or x >= self.x + self.width or x + max(width, 1) <= self.x:
            return 1
        return 0


@dataclass
class TreeText:
    """A formatted tree: ``text``, the ids it shows, and how many elements lie outside the viewport."""

    text: str
    ids: set[int] = field(default_factory=set)  # the backend ids of the elements shown
    above: int = 0
    below: int = 0
    truncated: bool = False


def layout_boxes(snapshot: Mapping[str, Any]) -> dict[int, Box]:
    """backendNodeId -> bounding box of the main frame's laid-out nodes, from ``DOMSnapshot.captureSnapshot``."""
    if not snapshot.get("documents"):
        return {}
    document = snapshot["documents"][0]
    backend_ids = document["nodes"]["backendNodeId"]
    boxes: dict[int, Box] = {}
    for node_index, (x, y, width, height) in zip(document["layout"]["nodeIndex"], document["layout"]["bounds"]):
        backend_id = backend_ids[node_index]
        if backend_id in boxes:  # a node laid out in several fragments: the union of them
            bx, by, bw, bh = boxes[backend_id]
            left, top = min(bx, x), min(by, y)
            right, bottom = max(bx + bw, x + width), max(by + bh, y + height)
            boxes[backend_id] = (left, top, right - left, bottom - top)
        else:
            boxes[backend_id] = (x, y, width, height)
    return boxes


def format_tree(nodes: Iterable[Mapping[str, Any]], boxes: Mapping[int, Box] | None = None,
                viewport: Viewport | None = None, max_chars: int = 12_000,
                number: Callable[[int], int] | None = None) -> TreeText:
    """Format the nodes of ``Accessibility.getFullAXTree``; with ``boxes`` and ``viewport``, only the visible part.

    ``number(backend_id)`` gives the id to show for an element (default: the backend id itself).
    """
    number = number or (lambda backend_id: backend_id)
    by_id = {node["nodeId"]: node for node in nodes}
    if not by_id:
        return TreeText("(the page is empty)")
    roots = [node for node in by_id.values() if not node.get("parentId") or node["parentId"] not in by_id]
    out = TreeText("")
    lines: list[str] = []
    control_names = {" ".join(str(_value(n.get("name")) or "").split()) for n in by_id.values()
                     if _value(n.get("role")) in LABELLED_ROLES}

    def visit(node: Mapping[str, Any], depth: int, context_name: str, parent_visible: bool,
              parent_role: str = "") -> None:
        role = _value(node.get("role"))
        if role in SKIPPED_ROLES:
            return
        name = " ".join(str(_value(node.get("name")) or "").split())
        backend_id = node.get("backendDOMNodeId")
        relation = 0 if boxes is None or viewport is None else (
            viewport.relation(boxes[backend_id]) if backend_id in boxes else (0 if parent_visible else 1))
        visible = relation == 0
        shown = not node.get("ignored") and not (role in FLATTENED_ROLES and not name) \
            and role not in ALWAYS_FLATTENED_ROLES
        if shown and role == "StaticText" and (not name or name in context_name
                                               or (parent_role == "LabelText" and name in control_names)):
            shown = False
        if shown and not visible:
            out.above += relation < 0
            out.below += relation > 0
            shown = False
        elif shown:
            lines.append("  " * depth + _line(node, role, name, None if backend_id is None else number(backend_id)))
            if backend_id is not None:
                out.ids.add(backend_id)
        for child_id in node.get("childIds", ()):
            child = by_id.get(child_id)
            if child is not None:
                context = f"{name} {_value(node.get('value')) or ''}" if shown else context_name
                visit(child, depth + 1 if shown else depth, context, visible, role)

    for root in roots:
        visit(root, 0, "", True)
    text = "\n".join(lines)
    if len(text) > max_chars:
        text = text[:text.rfind("\n", 0, max_chars) if "\n" in text[:max_chars] else max_chars]
        text += "\n[... the rest of the visible page is cut; scroll(down) to see it]"
        out.truncated = True
    out.text = text or "(nothing is visible here)"
    return out


def _value(field_value: Any) -> Any:
    return field_value.get("value") if isinstance(field_value, Mapping) else field_value


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _line(node: Mapping[str, Any], role: str, name: str, shown_id: int | None) -> str:
    parts = [f"[{shown_id}]" if shown_id is not None else "[-]", role or "unknown"]
    if name:
        parts.append(_quote(name))
    if role in VALUE_ROLES:
        value = _value(node.get("value"))
        if value not in (None, "") and str(value) != name:
            parts.append("value=" + _quote(" ".join(str(value).split())))
    states = {prop["name"]: _value(prop.get("value")) for prop in node.get("properties", ())}
    for state in SHOWN_STATES:
        value = states.get(state)
        if value in (True, "true"):
            parts.append(state)
        elif state in ("checked", "expanded") and value in (False, "false"):
            parts.append(f"{state}=false")
        elif state == "checked" and value == "mixed":
            parts.append("checked=mixed")
    return " ".join(parts)
