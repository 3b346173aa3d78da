"""The sweep, checked: no page or ui module hands unescaped text to a Streamlit element that
parses Markdown.

Streamlit renders Markdown (links, images, emphasis, KaTeX, colour directives, icons) in far
more places than st.markdown: captions, alerts, toasts, headings, st.table cells, every widget
label and `help` tooltip, tab, expander, popover and status titles, st.metric labels and
values, st.page_link labels, and the options of radios, pills, segmented controls and select
sliders. This test reads app.py, pages/ and ui/ (AST, no Streamlit run) and fails when such an
argument is anything but:

- a string constant, a number, or an f-string / concatenation / conditional made only of safe
  parts (a format spec such as `:%d %b %Y` or `:.1f` formats a date or a number: safe);
- a call of a helper from ui.text / core.text (escape_markdown, escape_label, local, ...);
- a translation (`_()`, `gettext()`, `ngettext()` from core.i18n) of safe parts, and a
  translated template's `.format()` with safe values: the catalogues (locales/*.po) are the
  project's own text, reviewed like the constants they translate;
- len/sum/int/round/... of anything; a module constant (UPPER_CASE) or a lookup in one;
- a local name whose every assignment in its function (or the module) is safe; a local
  function (e.g. a format_func) whose every return value is safe;
- an expression listed in ALLOWED for that file, with the reason it is computed in code.

Plain-text elements (st.text, st.code, st.dataframe, selectbox/multiselect options, widget
values and placeholders) are not checked: they never parse Markdown.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

from core import text as core_text

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted([ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "ui").glob("*.py")])

# Elements whose body (every positional argument, and `body=`) is Markdown.
BODY = {"markdown", "caption", "write", "info", "success", "warning", "error", "toast", "title",
        "header", "subheader", "badge", "table", "html", "latex", "dialog", "spinner"}
# Widgets and containers whose first argument (or `label=`) is a Markdown label.
LABELLED = {"text_input", "text_area", "number_input", "selectbox", "multiselect", "radio",
            "checkbox", "toggle", "button", "download_button", "link_button",
            "form_submit_button", "date_input", "datetime_input", "time_input", "file_uploader",
            "slider", "select_slider", "pills", "segmented_control", "color_picker",
            "camera_input", "audio_input", "expander", "popover", "status", "metric",
            "data_editor_label"}
# Widgets whose options are shown as Markdown (selectbox and multiselect show plain text).
MARKDOWN_OPTIONS = {"radio", "pills", "segmented_control", "select_slider"}
# Receivers that are not Streamlit, though they have methods of the same names.
NOT_STREAMLIT = {"log", "logger", "logging", "warnings", "parser", "figure", "fig", "axes"}
NUMERIC = {"len", "sum", "int", "float", "round", "abs", "min", "max", "bool", "range"}
# core.i18n's gettext functions, as the pages name them (`_ = tr().gettext`).
TRANSLATE = {"_", "gettext", "ngettext"}

# Expressions computed in code, not typed by anyone: (files, expression) -> why it is safe.
# Both are fnmatch patterns over the file's path and the expression's source text.
ALLOWED: dict[tuple[str, str], str] = {
    # Everywhere.
    ("*", "*.reference"): "a report's reference, made by the portal (NM-2026-00042)",
    ("*", "*.id"): "a database id (a number)",
    ("*", "*.rca_id"): "a database id (a number)",
    ("*", "*.status.label"): "a label of the portal's own vocabulary (an enum)",
    ("*", "*.status_label"): "a label of the portal's own vocabulary (an enum)",
    ("*", "*.kind.label"): "a label of the portal's own vocabulary (an enum)",
    ("*", "*.strength.label"): "a label of the portal's own vocabulary (an enum)",
    ("*", "[A-Z]*(*).label*"): "an enum's own label, e.g. Route(value).label",
    ("*", "item.state*"): "an escalation's state (waiting, overdue, ...)",
    ("*", "settings().*"): "the provider's settings file (configuration, not typed in the portal)",
    ("ui/accessibility.py", "source"): "the module's own scripts, given JSON-encoded widget keys",
    ("ui/accessibility.py", "text"): "error_summary's text: its callers escape what they put in",
    ("pages/*", "rules.*"): "rules = settings(): the provider's settings file",
    ("*", "gv.spc_summary(*)"): "the chart's variation and assurance in the portal's words",
    ("pages/*", "counts.*"): "figures counted by core",
    ("pages/*", "culture.*"): "figures counted by core",
    ("pages/*", "controls.*"): "figures counted by core",
    # One file each.
    ("ui/governance.py", "spc_icons.icons_html(*)"): "the portal's own constant SVG icons, looked "
                                                     "up by key; no text from people inside",
    ("app.py", "problem"): "startup problems: the portal's own messages about its setup",
    ("app.py", "role.label"): "role names (an enum)",
    ("pages/account.py", "r.label"): "role names (an enum)",
    ("pages/account.py", "actor.username"): "usernames are a-z, 0-9, '.', '_' and '-' only "
                                            "(core.auth USERNAME_PATTERN), shown as code",
    ("pages/action_plan.py", "recent"): "a count",
    ("pages/action_plan.py", "ever"): "a count",
    ("pages/action_plan.py", "warning"): "core's strength warning (fixed text)",
    ("pages/action_plan.py", "detail.warning"): "core's strength warning (fixed text)",
    ("pages/action_plan.py", "reference"): "the references of the plan's reports",
    ("pages/action_plan.py", "Capability.MANAGE_ACTIONS.value"): "fixed text",
    ("pages/actions.py", "chosen"): "the id of the chosen plan (a number)",
    ("pages/admin_cues.py", "key"): "a guide's key (care_worker, nurse, ...), fixed",
    ("pages/admin_taxonomy.py", "title"): "TABLE_TITLES: fixed text",
    ("pages/admin_taxonomy.py", "explanation"): "TABLE_TITLES: fixed text",
    ("pages/bulletin.py", "quarter.*"): "figures counted by core",
    ("pages/commissioner.py", "show(*)"): "a de-identified count as core shows it",
    ("pages/commissioner.py", "cv.threshold(rules=rules)"): "the suppression threshold (a number)",
    ("pages/commissioner.py", "trend.granularity"): "week or month",
    ("pages/feedback_updates.py", "current.revision"): "a number",
    ("pages/feedback_updates.py", "current.told_reporters"): "a count",
    ("pages/feedback_updates.py", "current.anonymous_references"): "a count",
    ("pages/governance_clusters.py", "title"): "fixed section titles",
    ("pages/governance_culture.py", "feedback.*"): "figures counted by core",
    ("pages/governance_pack.py", "what"): "progress steps named by core.exports.pack_pdf",
    ("pages/governance_pack.py", "period.label"): "a period named by the portal (2026 Q1)",
    ("pages/meeting.py", "cluster.peak"): "a count",
    ("pages/meeting.py", "cluster.usual"): "a count",
    ("pages/meeting.py", "cluster.window_days"): "a number of days (settings)",
    ("pages/meeting.py", "action"): "an action's status (an enum value)",
    ("pages/meeting.py", "turn"): "a counter",
    ("pages/my_reports.py", "told"): "a count",
    ("pages/near_miss.py", "plan_id"): "a database id (a number)",
    ("pages/near_miss.py", "review.similar_elsewhere*"): "report references",
    ("pages/report.py", "cues.audience"): "the guide's audience (GUIDES, fixed text)",
    ("pages/report.py", "limit"): "a number of characters",
    ("pages/triage_board.py", "board.*"): "figures counted by core",
    ("ui/action_panels.py", "number"): "an action's number in its plan",
    ("ui/action_card.py", "self.number"): "an action's number in its plan",
    ("ui/action_card.py", "label"): "fixed labels (DEADLINE_BADGES, the facts' names)",
    ("ui/action_panels.py", "kind.*"): "the action hierarchy (KINDS_BY_KEY, fixed text)",
    ("ui/action_card.py", "row.kind"): "the action hierarchy's label for the kind",
    ("ui/action_card.py", "measure.baseline_weeks"): "a number",
    ("ui/action_card.py", "proposal.reason"): "core's verdict reasoning, numbers only",
    ("ui/review_panels.py", "str.capitalize"): "the options are 'yes' and 'no'",
    ("ui/review_panels.py", "view.*_version"): "version numbers",
    ("ui/session.py", "message(*)"): "sign-in refusals, storage errors and notices: core's "
                                     "fixed messages, in the reader's language",
    ("*", "native_name"): "a language's own name (core.i18n: fixed text, or Babel's)",
}


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    call: str
    expression: str

    def __str__(self) -> str:
        return (f"{self.path}:{self.line} {self.call}(…): `{self.expression}` is not escaped "
                "(wrap it with a ui.text helper, or add it to ALLOWED with the reason it is "
                "computed in code)")


def _constant_name(node: ast.expr) -> bool:
    """A module constant, by its UPPER_CASE name (`LABELS`, `cv.DIMENSIONS`)."""
    name = node.id if isinstance(node, ast.Name) else \
        node.attr if isinstance(node, ast.Attribute) else ""
    return name.isupper()


class _Checker:
    def __init__(self, path: str, source: str) -> None:
        self.path = path
        self.tree = ast.parse(source, filename=path)
        self.parents: dict[ast.AST, ast.AST] = {}
        self.functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
        self.calls: list[ast.Call] = []
        imported: set[str] = set()
        self.helpers: set[str] = set()
        for node in ast.walk(self.tree):
            for child in ast.iter_child_nodes(node):
                self.parents[child] = node
            if isinstance(node, ast.Call):
                self.calls.append(node)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                self.functions[node.name] = node
            elif isinstance(node, ast.Import | ast.ImportFrom):
                names = {alias.asname or alias.name for alias in node.names}
                imported |= names
                if isinstance(node, ast.ImportFrom) and node.module in ("ui.text", "core.text"):
                    self.helpers |= names
        # Names imported from elsewhere (ui.action_panels as panels, plotly as go, ...):
        # `panels.error(key)` is the project's own helper, not a Streamlit element.
        self.modules = imported - {"st"} - self.helpers
        self.used_allowances: set[tuple[str, str]] = set()
        self._tables: dict[int, dict[str, list[ast.expr] | None]] = {}

    # -- where names come from

    def _scope(self, node: ast.AST) -> ast.AST:
        current = self.parents.get(node)
        while current is not None and not isinstance(
                current, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.Module):
            current = self.parents.get(current)
        return current or self.tree

    def _assignments(self, scope: ast.AST, name: str) -> list[ast.expr] | None:
        """The values assigned to `name` where it is visible from `scope` (None: a parameter,
        a loop variable or an unpacking, whose value this check cannot follow)."""
        if id(scope) not in self._tables:
            self._tables[id(scope)] = self._table(scope)
        table = self._tables[id(scope)]
        if name in table:
            return table[name]
        return [] if isinstance(scope, ast.Module) else self._assignments(self._scope(scope),
                                                                          name)

    @staticmethod
    def _table(scope: ast.AST) -> dict[str, list[ast.expr] | None]:
        """Every name bound in one function (or the module), not looking into inner ones."""
        table: dict[str, list[ast.expr] | None] = {}

        def bind(name: str, value: ast.expr | None) -> None:
            if value is None:
                table[name] = None
            elif table.get(name, []) is not None:
                table.setdefault(name, []).append(value)  # type: ignore[union-attr]

        def unfollowable(target: ast.AST) -> None:
            for node in ast.walk(target):
                if isinstance(node, ast.Name):
                    bind(node.id, None)

        if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            args = scope.args
            for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs,
                        *([args.vararg] if args.vararg else []),
                        *([args.kwarg] if args.kwarg else [])]:
                bind(arg.arg, None)
        pending = list(scope.body) if isinstance(scope.body, list) else [scope.body]
        while pending:
            node = pending.pop()
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        bind(target.id, node.value)
                    else:
                        unfollowable(target)
            elif isinstance(node, ast.AnnAssign | ast.AugAssign | ast.NamedExpr) and isinstance(
                    node.target, ast.Name) and node.value is not None:
                bind(node.target.id, node.value)
            elif isinstance(node, ast.For | ast.AsyncFor):
                counting = isinstance(node.iter, ast.Call) and isinstance(
                    node.iter.func, ast.Name) and node.iter.func.id == "range"
                if counting and isinstance(node.target, ast.Name):
                    bind(node.target.id, ast.Constant(0))  # counting: a number
                else:
                    unfollowable(node.target)
            elif isinstance(node, ast.comprehension):
                unfollowable(node.target)
            elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                unfollowable(node.optional_vars)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                bind(node.name, ast.Constant(""))  # a def: followed through its returns
                continue
            elif isinstance(node, ast.Lambda):
                continue
            pending.extend(ast.iter_child_nodes(node))
        return table

    # -- is an expression safe?

    def _allowance(self, expression: str) -> tuple[str, str] | None:
        return next(((files, pattern) for files, pattern in ALLOWED
                     if fnmatchcase(self.path, files) and fnmatchcase(expression, pattern)),
                    None)

    def safe(self, expr: ast.expr | None, seen: frozenset[int] = frozenset()) -> bool:
        if expr is None or id(expr) in seen:
            return True
        seen = seen | {id(expr)}
        allowance = self._allowance(ast.unparse(expr))
        if allowance is not None:
            self.used_allowances.add(allowance)
            return True
        match expr:
            case ast.Constant():
                return True
            case ast.JoinedStr(values=values):
                return all(self.safe(v, seen) for v in values)
            case ast.FormattedValue(value=value, format_spec=spec):
                return spec is not None or self.safe(value, seen)
            case ast.BinOp(left=left, right=right):
                return self.safe(left, seen) and self.safe(right, seen)
            case ast.BoolOp(values=values):
                return all(self.safe(v, seen) for v in values)
            case ast.IfExp(body=body, orelse=orelse):
                return self.safe(body, seen) and self.safe(orelse, seen)
            case ast.Compare() | ast.UnaryOp():
                return True
            case ast.Name(id=name):
                if name.isupper() or name in self.helpers:
                    return True
                if name in self.functions:
                    return self._returns_safe(self.functions[name], seen)
                values = self._assignments(self._scope(expr), name)
                return values is not None and bool(values) and all(
                    self.safe(v, seen) for v in values)
            case ast.Subscript(value=base) if _constant_name(base):
                return True
            case ast.Subscript(value=ast.Dict(values=values)):
                return all(self.safe(v, seen) for v in values)
            case ast.Attribute(value=base, attr="get") if _constant_name(base):
                return True
            case ast.Lambda(body=body):
                return self.safe(body, seen)
            case ast.List(elts=elts) | ast.Tuple(elts=elts):
                return all(self.safe(e, seen) for e in elts)
            case ast.Call(func=ast.Name(id=name), args=args) if name in TRANSLATE:
                return all(self.safe(a, seen) for a in args)
            case ast.Call(func=ast.Attribute(attr=name), args=args) if name in TRANSLATE:
                return all(self.safe(a, seen) for a in args)
            case ast.Call(func=ast.Attribute(value=template, attr="format"), args=args,
                          keywords=keywords):
                return self.safe(template, seen) and all(
                    self.safe(a, seen) for a in [*args, *(k.value for k in keywords)])
            case ast.Call(func=ast.Name(id=name), args=args):
                if name in NUMERIC or name in self.helpers:
                    return True
                if name in ("str", "list", "sorted", "tuple"):
                    return all(self.safe(a, seen) for a in args)
                if name in self.functions:
                    return self._returns_safe(self.functions[name], seen)
                return False
            case ast.Call(func=ast.Attribute(value=receiver, attr=method), args=args):
                if method == "join" and isinstance(receiver, ast.Constant):
                    return all(self.safe(a, seen) for a in args)
                if method == "get" and _constant_name(receiver):
                    return True
                if method in ("lower", "upper", "capitalize", "strip", "title", "rstrip"):
                    return self.safe(receiver, seen)
                return False
            case ast.GeneratorExp(elt=elt) | ast.ListComp(elt=elt):
                return self.safe(elt, seen)
        return False

    def _returns_safe(self, function: ast.FunctionDef | ast.AsyncFunctionDef,
                      seen: frozenset[int]) -> bool:
        returns = [n.value for n in ast.walk(function) if isinstance(n, ast.Return)]
        return all(self.safe(r, seen) for r in returns)

    # -- which arguments parse Markdown

    def checked_arguments(self, call: ast.Call) -> Iterator[tuple[str, ast.expr]]:
        names = self._streamlit_names(call.func)
        keywords = {k.arg: k.value for k in call.keywords if k.arg}
        for name in names:
            if name in BODY:
                yield from ((name, a) for a in call.args)
                if "body" in keywords:
                    yield name, keywords["body"]
                if name == "progress" and "text" in keywords:
                    yield name, keywords["text"]
            if name in LABELLED:
                label = keywords.get("label", call.args[0] if call.args else None)
                if label is not None:
                    yield name, label
            if name == "metric":
                for index, key in ((1, "value"), (2, "delta")):
                    value = keywords.get(key, call.args[index] if len(call.args) > index
                                         else None)
                    if value is not None:
                        yield name, value
            if name == "page_link" and "label" in keywords:
                yield name, keywords["label"]
            if name == "tabs" and call.args:
                tabs = call.args[0]
                yield from ((name, t) for t in (tabs.elts if isinstance(
                    tabs, ast.List | ast.Tuple) else [tabs]))
            if name == "progress" and "text" in keywords:
                yield name, keywords["text"]
            if name in MARKDOWN_OPTIONS:
                if "format_func" in keywords:
                    yield name + " format_func", keywords["format_func"]
                else:
                    options = keywords.get("options", call.args[1] if len(call.args) > 1
                                           else None)
                    if options is not None:
                        yield name + " options", options
        if names and "help" in keywords:
            yield "help", keywords["help"]

    def _streamlit_names(self, func: ast.expr) -> set[str]:
        """The Streamlit element names a call may be: `st.x`, `column.x`, or any of those
        picked by a conditional or a dict (`(st.success if ok else st.error)(...)`)."""
        if isinstance(func, ast.Attribute):
            receiver = func.value
            if isinstance(receiver, ast.Name) and (receiver.id in NOT_STREAMLIT
                                                   or receiver.id in self.modules):
                return set()
            if isinstance(receiver, ast.Constant):
                return set()
            known = BODY | LABELLED | {"page_link", "tabs", "progress"}
            return {func.attr} & known
        names: set[str] = set()
        for node in ast.walk(func):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id == "st":
                names.add(node.attr)
        return names & (BODY | LABELLED)

    def findings(self) -> list[Finding]:
        found = []
        for node in self.calls:
            for call, argument in self.checked_arguments(node):
                if not self.safe(argument):
                    found.append(Finding(self.path, argument.lineno, call,
                                         ast.unparse(argument)))
        return found


def test_every_markdown_element_gets_escaped_text_or_text_computed_in_code():
    findings, _used = _checked()
    assert findings == [], "\n" + "\n".join(findings)


def test_every_allow_list_entry_is_still_needed():
    _findings, used = _checked()
    stale = sorted(set(ALLOWED) - used)
    assert stale == [], f"allow-list entries no longer needed: {stale}"
    assert all(reason.strip() for reason in ALLOWED.values())


@pytest.mark.parametrize("source", [
    'st.caption(f"{card.service} · {card.location}")',
    "st.markdown(name)",
    'st.text_input(f"Evidence for {check.name}")',
    'st.radio("Owner", ids, format_func=names.get)',
    'st.expander(theme.label)',
    "(st.success if ok else st.error)(message)",
    'left.metric(title, 3)',
    'st.page_link("pages/x.py", label=plan.title)',
    'st.tabs([service.name, "Other"])',
    'st.button("Go", help=item.note)',
])
def test_the_sweep_catches_unescaped_text(source):
    checker = _checker_for(source)
    assert [f.expression for f in checker.findings()], source


@pytest.mark.parametrize("source", [
    'st.caption(f"{escape_markdown(card.service)} · {escape_markdown(card.location)}")',
    'st.text(name)',
    'st.selectbox("Owner", ids, format_func=names.get)',
    'st.radio("Answer", list(YES_NO), format_func=YES_NO.get)',
    'st.caption(f"{len(rows)} shown since {day:%d %b %Y}, {share:.0%} · {local(at)}")',
    'st.markdown("**Done**" if done else "Open")',
    'st.expander(escape_label(theme.label))',
    "(st.success if ok else st.error)(escape_markdown(message))",
    'st.dataframe(frame)',
])
def test_the_sweep_accepts_escaped_and_computed_text(source):
    checker = _checker_for(source)
    assert checker.findings() == [], source


def _checker_for(source: str) -> _Checker:
    return _Checker("sample.py", "import streamlit as st\nfrom ui.text import "
                    f"escape_markdown, escape_label, local\n\n{source}\n")


@functools.cache
def _checked() -> tuple[list[str], set[tuple[str, str]]]:
    """Every finding in the project, and the allow-list entries that were needed."""
    checkers = [_Checker(path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8"))
                for path in SOURCES]
    findings = [str(f) for checker in checkers for f in checker.findings()]
    return findings, set().union(*(c.used_allowances for c in checkers))


def test_core_text_is_the_one_helper():
    import ui.text

    for name in ("escape_markdown", "escape_caption", "escape_label", "escape_layout",
                 "chart_text", "matplotlib_text"):
        assert getattr(ui.text, name) is getattr(core_text, name)
