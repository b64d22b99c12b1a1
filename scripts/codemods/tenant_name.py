"""Codemod: the tenant (the PRE) has one name in Python code, ``tenant`` (ADR 0022).

Renames the identifiers ``pre_id`` and ``pre`` (and the few compounds holding PRE ids,
``RENAMES``) wherever Python names them: variables, parameters, functions, attributes,
dataclass and pydantic fields, keyword arguments. It never touches what is not a Python
name: string contents (SQL keeps its column ``pre_id``, JSON keys keep theirs), comments,
the wire. Where a Python name *is* on the wire, the wire's name is kept explicitly:

- a pydantic field ``pre_id`` becomes ``tenant: T = Field(..., alias="pre_id")`` in a model
  that validates by name and serialises by alias: schemas, bodies and stored JSON unchanged;
- a FastAPI query or path parameter gets ``Query(alias=...)`` / ``Path(alias=...)``;
- a Typer option keeps ``--pre``, a Typer argument its metavar, an argparse option its
  flag (``dest=`` names the attribute);
- keyword arguments of log calls are log keys, and those of the two adapters building an
  INSERT from them are column names: kept.

Strings naming a Python attribute are renamed (``getattr(x, "pre_id")``,
``model_dump(exclude={"pre_id"})``), and so are the templates that read a renamed attribute.

Where the old and the new name would meet (a scope binding both ``pre_id`` and ``tenant``,
or reading an outer ``tenant`` it would now shadow; a class with both attributes; a call
passing both keywords), the file is reported and left unchanged: settle it in
``FILE_RENAMES`` and run again. Running it on renamed code changes nothing.

    uv run --with libcst python scripts/codemods/tenant_name.py          # rewrite
    uv run --with libcst python scripts/codemods/tenant_name.py --check  # list, write nothing

Files it rewrites are then formatted with ruff (imports sorted, lines re-wrapped).
"""

from __future__ import annotations

import argparse
import io
import re
import subprocess
import sys
import tokenize
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst
from libcst.metadata import ClassScope, MetadataWrapper, PositionProvider, Scope, ScopeProvider

REPO = Path(__file__).resolve().parents[2]
ROOTS = ("contracts", "runtime", "services", "tests", "benchmarks", "scripts")
SKIP_PARTS = {".venv", "node_modules", "__pycache__", "codemods"}

#: Python names of the PRE, and the compounds holding PRE ids, with their one name.
RENAMES: dict[str, str] = {
    "pre_id": "tenant",
    "pre": "tenant",
    "pre_ids": "tenants",
    "pres": "tenants",
    "other_pre": "other_tenant",
    "readable_pres": "readable_tenants",
    "by_pre": "by_tenant",
    "institution_pre": "institution_tenant",
    "situation_pre": "situation_tenant",
    "letter_pre": "letter_tenant",
    "ensure_same_pre": "ensure_same_tenant",
    "pre_scope": "tenant_scope",
}

#: Per file (path from the repository root): what a name means there instead.
FILE_RENAMES: dict[str, dict[str, str]] = {
    # ``--pre`` is how many PREs share the generated children: a count, not a PRE.
    "benchmarks/reporting_rebuild.py": {
        "pre": "tenant_count",
        "pres": "tenant_count",
        "per_pre": "per_tenant",
    },
}

#: Per function ((path, name)): what a local name (not an attribute or keyword) means there.
LOCAL_RENAMES: dict[tuple[str, str], dict[str, str]] = {
    # the PRE asked for (``?pre_id=``) and the caller's meet in one scope
    ("services/reporting/src/relais_reporting/entrypoints/http.py", "pre_scope"): {
        "pre_id": "asked",
    },
}

#: Per function ((path, name)): dicts whose string keys are keyword arguments of a renamed
#: function (``mint_token(**args)``), so the keys are Python names.
KEYWORD_DICTS: dict[tuple[str, str], set[str]] = {
    ("runtime/tests/test_auth.py", "token"): {"pre"},
}

#: ``<...>.keys.pre`` (and ``self.pre`` in ReferralKeys) hold the PRE keys, not a PRE.
KEYS_RECEIVER = re.compile(r"(^|\.)keys$")
KEYS_FILE = "services/referral/src/relais_referral/adapters/keys.py"
KEYS_ATTRIBUTE = "pre_keys"

#: Calls whose keyword names are output keys (structured log fields, metric labels).
OUTPUT_KEYWORD_CALLS = {
    "debug",
    "info",
    "warning",
    "warn",
    "error",
    "exception",
    "critical",
    "msg",
    "bind",
    "bind_contextvars",
    "labels",
}
#: Calls whose keyword names are SQL column names (the adapter builds its INSERT from them).
COLUMN_KEYWORD_CALLS = {"subscriptions.add_subscription", "deliveries.add"}
ATTRIBUTE_NAME_CALLS = {"getattr", "hasattr", "setattr", "delattr"}
FIELD_SET_METHODS = {"model_dump", "model_dump_json"}
ROUTE_METHODS = {"get", "post", "put", "patch", "delete", "head", "options", "api_route"}
HTTP_PARAMS = {"Query", "Path", "Header", "Cookie"}
DEPENDENCIES = {"Depends", "Security"}
PYDANTIC_ROOTS = {"BaseModel", "RootModel"}
SETTINGS_ROOTS = {"BaseSettings"}
MODEL_FLAGS = ("validate_by_name", "serialize_by_alias")

#: Templates reading a renamed attribute or context name: (path, old, new), idempotent.
TEMPLATE_EDITS: tuple[tuple[str, str, str], ...] = (
    (
        "services/web/src/relais_web/templates/devidp/choose.html",
        "{{ users[0].pre }}",
        "{{ users[0].tenant }}",
    ),
    (
        "services/web/src/relais_web/templates/analyst/dashboard.html",
        '{% elif pre %}<input type="hidden" name="pre" value="{{ pre }}">',
        '{% elif tenant %}<input type="hidden" name="pre" value="{{ tenant }}">',
    ),
)


# --- small helpers over libcst nodes ---


def python_files(paths: Sequence[str]) -> list[Path]:
    found: list[Path] = []
    for root in (REPO / p for p in (paths or ROOTS)):
        candidates = [root] if root.is_file() else sorted(root.rglob("*.py"))
        found += [p for p in candidates if not SKIP_PARTS.intersection(p.parts)]
    return found


def rel(path: Path) -> str:
    return path.resolve().relative_to(REPO).as_posix()


def dotted(node: cst.BaseExpression) -> str:
    """``a.b.c`` for a chain of names, "" for anything else."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        head = dotted(node.value)
        return f"{head}.{node.attr.value}" if head else ""
    return ""


def last_name(node: cst.BaseExpression) -> str:
    """The name a class base, callee or decorator ends with (``pydantic.BaseModel``)."""
    if isinstance(node, cst.Subscript):
        node = node.value
    if isinstance(node, cst.Call):
        node = node.func
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return node.attr.value
    return ""


def string_value(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def quoted(text: str) -> cst.SimpleString:
    return cst.SimpleString(f'"{text}"')


def keyword(call: cst.Call, name: str) -> cst.Arg | None:
    return next((a for a in call.args if a.keyword and a.keyword.value == name), None)


def _comma_after(args: list[cst.Arg]) -> None:
    if args and not isinstance(args[-1].comma, cst.Comma):
        args[-1] = args[-1].with_changes(
            comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        )


def add_keyword(call: cst.Call, name: str, value: cst.BaseExpression) -> cst.Call:
    """``call`` with ``name=value`` last, unless it has ``name`` already (ruff re-wraps)."""
    if keyword(call, name) is not None:
        return call
    args = list(call.args)
    trailing = bool(args) and isinstance(args[-1].comma, cst.Comma)
    _comma_after(args)
    equal = cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))
    new = cst.Arg(keyword=cst.Name(name), value=value, equal=equal)
    if trailing:
        new = new.with_changes(comma=cst.Comma())
    return call.with_changes(args=[*args, new])


def insert_positional(call: cst.Call, index: int, value: cst.BaseExpression) -> cst.Call:
    args = list(call.args)
    new = cst.Arg(value=value)
    if index < len(args) or (args and isinstance(args[-1].comma, cst.Comma)):
        new = new.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
    else:
        _comma_after(args)
    return call.with_changes(args=[*args[:index], new, *args[index:]])


def calls_in(node: cst.CSTNode) -> Iterator[cst.Call]:
    if isinstance(node, cst.Call):
        yield node
    for child in node.children:
        yield from calls_in(child)


def walk(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    yield node
    for child in node.children:
        yield from walk(child)


# --- the whole tree: pydantic models, functions FastAPI calls ---


@dataclass
class Workspace:
    models: set[str] = field(default_factory=set)
    settings: set[str] = field(default_factory=set)
    dependencies: set[str] = field(default_factory=set)
    #: model -> its fields renamed (old -> new): ``{k: row[k] for k in M.model_fields}``
    #: reads columns by field name, so the renamed ones are read by their old name
    renamed_fields: dict[str, dict[str, str]] = field(default_factory=dict)


class _Survey(cst.CSTVisitor):
    def __init__(self) -> None:
        self.bases: dict[str, set[str]] = {}
        self.depends: set[str] = set()
        self.fields: dict[str, set[str]] = {}  # of pydantic-looking classes (a base)
        self.aliased: dict[str, dict[str, str]] = {}  # model -> {alias (old): field (new)}

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        names = {last_name(b.value) for b in node.bases} - {""}
        self.bases.setdefault(node.name.value, set()).update(names)
        if not names:
            return  # a dataclass or plain class (a model of the same name may exist)
        self.fields.setdefault(node.name.value, set()).update(
            s.target.value
            for line in node.body.body
            if isinstance(line, cst.SimpleStatementLine)
            for s in line.body
            if isinstance(s, cst.AnnAssign) and isinstance(s.target, cst.Name)
        )
        for line in node.body.body:
            for s in line.body if isinstance(line, cst.SimpleStatementLine) else ():
                if not (isinstance(s, cst.AnnAssign) and isinstance(s.target, cst.Name)):
                    continue
                alias = keyword(s.value, "alias") if isinstance(s.value, cst.Call) else None
                old = string_value(alias.value) if alias is not None else None
                if old in RENAMES and RENAMES[old] == s.target.value:
                    self.aliased.setdefault(node.name.value, {})[old] = s.target.value

    def visit_Call(self, node: cst.Call) -> None:
        if last_name(node.func) in DEPENDENCIES and node.args:
            name = last_name(node.args[0].value)
            if name:
                self.depends.add(name)


def survey(trees: dict[Path, cst.Module]) -> Workspace:
    visitor = _Survey()
    for tree in trees.values():
        tree.visit(visitor)

    def subclasses(roots: set[str]) -> set[str]:
        found = set(roots)
        grew = True
        while grew:
            grew = False
            for name, bases in visitor.bases.items():
                if name not in found and bases & found:
                    found.add(name)
                    grew = True
        return found - roots

    settings = subclasses(SETTINGS_ROOTS)
    models = subclasses(PYDANTIC_ROOTS | SETTINGS_ROOTS) - settings
    renamed = {
        model: {old: RENAMES[old] for old in visitor.fields.get(model, set()) & RENAMES.keys()}
        | visitor.aliased.get(model, {})  # renamed already (a second run)
        for model in models
    }
    return Workspace(
        models=models,
        settings=settings,
        dependencies=visitor.depends,
        renamed_fields={model: fields for model, fields in renamed.items() if fields},
    )


# --- clashes: where the old and the new name would meet ---


@dataclass(frozen=True)
class Clash:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


class _ClashFinder(cst.CSTVisitor):
    METADATA_DEPENDENCIES = (ScopeProvider, PositionProvider)

    def __init__(self, path: str, renames: dict[str, str], workspace: Workspace) -> None:
        super().__init__()
        self.path, self.renames, self.workspace = path, renames, workspace
        self.clashes: list[Clash] = []
        self.scopes: dict[int, Scope] = {}
        self.lines: dict[int, int] = {}  # scope nodes' lines, kept while visiting

    def line(self, node: cst.CSTNode) -> int:
        try:
            return self.get_metadata(PositionProvider, node).start.line
        except KeyError:
            return 1

    def on_visit(self, node: cst.CSTNode) -> bool:
        scope = self.get_metadata(ScopeProvider, node, None)
        if scope is not None:
            self.scopes[id(scope)] = scope
        if isinstance(node, cst.FunctionDef | cst.ClassDef | cst.Lambda):
            self.lines[id(node)] = self.line(node)
        return super().on_visit(node)

    def visit_Call(self, node: cst.Call) -> None:
        if (
            last_name(node.func) in OUTPUT_KEYWORD_CALLS
            or dotted(node.func) in COLUMN_KEYWORD_CALLS
        ):
            return
        names = {a.keyword.value for a in node.args if a.keyword}
        self.meet(names, self.line(node), "keyword arguments")

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        attributes = {
            sub.attr.value
            for sub in walk(node)
            if isinstance(sub, cst.Attribute)
            and isinstance(sub.value, cst.Name)
            and sub.value.value == "self"
        }
        body = {
            s.target.value
            for line in node.body.body
            if isinstance(line, cst.SimpleStatementLine)
            for s in line.body
            if isinstance(s, cst.AnnAssign) and isinstance(s.target, cst.Name)
        }
        self.meet(attributes | body, self.line(node), f"attributes of {node.name.value}")
        if node.name.value in self.workspace.settings and body & self.renames.keys():
            self.clashes.append(
                Clash(
                    self.path,
                    self.line(node),
                    f"settings {node.name.value}: renaming a field renames its variable",
                )
            )

    def meet(self, names: set[str], line: int, where: str) -> None:
        targets: dict[str, list[str]] = {}
        for name in names:
            targets.setdefault(self.renames.get(name, name), []).append(name)
        for new, olds in targets.items():
            if len(olds) > 1:
                both = " and ".join(sorted(olds))
                self.clashes.append(Clash(self.path, line, f"{where}: {both} would be {new}"))

    def finish(self) -> None:
        scopes = list(self.scopes.values())
        for scope in scopes:
            node = getattr(scope, "node", None)
            where, line = describe(scope), self.lines.get(id(node), 1)
            names = {a.name for a in scope.assignments}
            if isinstance(node, cst.FunctionDef):
                local = LOCAL_RENAMES.get((self.path, node.name.value), {})
                names = {local.get(n, n) for n in names}
            self.meet(names, line, where)
            if isinstance(scope, ClassScope):
                continue  # a class body's names are not visible in its methods
            for old in names & self.renames.keys():
                new = self.renames[old]
                if new not in names and any(reads_from_outside(scope, s, new) for s in scopes):
                    self.clashes.append(
                        Clash(self.path, line, f"{where}: {old} would shadow the {new} it reads")
                    )


def describe(scope: Scope) -> str:
    node = getattr(scope, "node", None)
    if isinstance(node, cst.FunctionDef):
        return f"function {node.name.value}"
    if isinstance(node, cst.ClassDef):
        return f"class {node.name.value}"
    return type(scope).__name__


def inside(inner: Scope, outer: Scope) -> bool:
    while True:
        if inner is outer:
            return True
        parent = getattr(inner, "parent", inner)
        if parent is inner:
            return False
        inner = parent


def reads_from_outside(scope: Scope, candidate: Scope, name: str) -> bool:
    """``candidate`` (``scope`` or nested in it) reads ``name`` bound outside ``scope``."""
    if not inside(candidate, scope):
        return False
    for access in candidate.accesses[name]:
        if not any(inside(r.scope, scope) for r in access.referents if r.scope is not None):
            return True
    return False


# --- the rewrite ---


@dataclass
class Needs:
    """Imports the rewrite of one module calls for: module -> names (``"Path as X"``)."""

    imports: dict[str, set[str]] = field(default_factory=dict)
    #: names the module binds at its top (imports, definitions) -> where from
    bound: dict[str, str] = field(default_factory=dict)

    def add(self, module: str, name: str) -> str:
        """Import ``name`` from ``module``; the name to use (another if it is taken)."""
        local = name
        if self.bound.get(name, module) != module:
            local = f"{module.split('.')[-1].capitalize()}{name}"  # Path -> FastapiPath
        entry = name if local == name else f"{name} as {local}"
        self.imports.setdefault(module, set()).add(entry)
        return local


class Renamer(cst.CSTTransformer):
    def __init__(self, path: str, renames: dict[str, str], workspace: Workspace) -> None:
        super().__init__()
        self.path, self.renames, self.workspace = path, renames, workspace
        self.keep: set[int] = set()  # Name nodes that stay (output keys)
        self.override: dict[int, str] = {}  # Name nodes renamed otherwise
        self.needs = Needs()
        self.prefix = ""  # the module's APIRouter prefix
        self.aliases: dict[str, cst.BaseExpression] = {}  # module-level X = Annotated[...]
        self.alias_fixes: dict[str, str] = {}  # X -> wire name for its Query/Path
        self.field_classes: list[set[str]] = []  # per class being visited: old field names
        self.functions: list[str] = []  # names of the functions being visited
        self.problems: list[str] = []  # what it cannot do: the file is then left as it is
        self.not_local: set[int] = set()  # Name nodes that are attributes or keywords

    # names
    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.Name:
        if id(original_node) in self.keep:
            return updated_node
        new = self.override.get(id(original_node))
        if new is None and self.functions and id(original_node) not in self.not_local:
            local = LOCAL_RENAMES.get((self.path, self.functions[-1]), {})
            new = local.get(original_node.value)
        new = new or self.renames.get(original_node.value)
        return updated_node.with_changes(value=new) if new else updated_node

    def leave_SimpleString(
        self, original_node: cst.SimpleString, updated_node: cst.SimpleString
    ) -> cst.SimpleString:
        keys = KEYWORD_DICTS.get((self.path, self.functions[-1])) if self.functions else None
        text = string_value(original_node)
        if keys and text in keys:
            return quoted(self.renames[text])
        return updated_node

    def visit_Arg(self, node: cst.Arg) -> None:
        if node.keyword is not None:
            self.not_local.add(id(node.keyword))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.functions.append(node.name.value)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self.not_local.add(id(node.attr))
        if node.attr.value != "pre":
            return
        receiver = dotted(node.value)
        if KEYS_RECEIVER.search(receiver) or (self.path == KEYS_FILE and receiver == "self"):
            self.override[id(node.attr)] = KEYS_ATTRIBUTE

    # the module: router prefix, type aliases, imports
    def visit_Module(self, node: cst.Module) -> None:
        for line in node.body:
            if isinstance(line, cst.ClassDef | cst.FunctionDef):
                self.needs.bound[line.name.value] = "<here>"
            if not isinstance(line, cst.SimpleStatementLine):
                continue
            for s in line.body:
                if isinstance(s, cst.ImportFrom) and not isinstance(s.names, cst.ImportStar):
                    source = dotted(s.module) if s.module is not None else ""
                    for a in s.names:
                        self.needs.bound[str(a.evaluated_alias or a.evaluated_name)] = source
                if isinstance(s, cst.Import):
                    for a in s.names:
                        bound = str(a.evaluated_alias or a.evaluated_name).split(".")[0]
                        self.needs.bound[bound] = "<module>"
                if isinstance(s, cst.Assign) and len(s.targets) == 1:
                    target = s.targets[0].target
                    if isinstance(target, cst.Name):
                        self.aliases[target.value] = s.value
                        for call in calls_in(s.value):
                            prefix = keyword(call, "prefix")
                            if last_name(call.func) == "APIRouter" and prefix is not None:
                                self.prefix = string_value(prefix.value) or ""

    def leave_Assign(self, original_node: cst.Assign, updated_node: cst.Assign) -> cst.Assign:
        target = original_node.targets[0].target if len(original_node.targets) == 1 else None
        if isinstance(target, cst.Name) and target.value == "__all__":
            return updated_node.with_changes(value=self.renamed_strings(updated_node.value))
        return updated_node

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        # a parameter type alias (``Pre = Annotated[str, Path()]``) gets its wire name once
        # the functions using it are seen
        body = list(updated_node.body)
        for i, line in enumerate(body):
            if not isinstance(line, cst.SimpleStatementLine):
                continue
            statements = list(line.body)
            for j, s in enumerate(statements):
                if isinstance(s, cst.Assign) and len(s.targets) == 1:
                    target = s.targets[0].target
                    if isinstance(target, cst.Name) and target.value in self.alias_fixes:
                        wire = self.alias_fixes[target.value]
                        statements[j] = s.with_changes(value=with_param_alias(s.value, wire))
            body[i] = line.with_changes(body=statements)
        return add_imports(updated_node.with_changes(body=body), self.needs.imports)

    # calls: output keywords, attribute names in strings, argparse flags
    def visit_Call(self, node: cst.Call) -> None:
        callee = last_name(node.func)
        if callee in OUTPUT_KEYWORD_CALLS or dotted(node.func) in COLUMN_KEYWORD_CALLS:
            self.keep.update(id(a.keyword) for a in node.args if a.keyword)

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.Call:
        updated_node = self.columns_by_field(updated_node)
        callee = last_name(original_node.func)
        if callee in ATTRIBUTE_NAME_CALLS and len(updated_node.args) >= 2:
            name = string_value(updated_node.args[1].value)
            if name in self.renames:
                args = list(updated_node.args)
                args[1] = args[1].with_changes(value=quoted(self.renames[name]))
                return updated_node.with_changes(args=args)
        if callee in FIELD_SET_METHODS:
            args = [
                a.with_changes(value=self.renamed_strings(a.value))
                if a.keyword and a.keyword.value in {"include", "exclude"}
                else a
                for a in updated_node.args
            ]
            return updated_node.with_changes(args=args)
        if callee == "parametrize" and updated_node.args:
            names = string_value(updated_node.args[0].value)
            if names is not None:
                fixed = ",".join(self.renames.get(n.strip(), n.strip()) for n in names.split(","))
                if fixed != ",".join(n.strip() for n in names.split(",")):
                    args = list(updated_node.args)
                    args[0] = args[0].with_changes(value=quoted(fixed))
                    return updated_node.with_changes(args=args)
        if callee == "add_argument" and updated_node.args:
            flag = string_value(updated_node.args[0].value) or ""
            name = flag.lstrip("-").replace("-", "_")
            if flag.startswith("--") and name in self.renames:
                return add_keyword(updated_node, "dest", quoted(self.renames[name]))
        return updated_node

    def columns_by_field(self, call: cst.Call) -> cst.Call:
        """``M(**{k: row[k] for k in M.model_fields})`` reads a renamed field's column by its
        old name: ``M(**{k: row[k] for k in M.model_fields if k != "tenant"},
        tenant=row["pre_id"])``."""
        args = list(call.args)
        for arg in call.args:
            comp = arg.value
            if arg.star != "**" or not isinstance(comp, cst.DictComp):
                continue
            loop = comp.for_in
            source = loop.iter
            if not (
                isinstance(source, cst.Attribute)
                and source.attr.value == "model_fields"
                and isinstance(loop.target, cst.Name)
                and isinstance(comp.value, cst.Subscript)
            ):
                continue
            fields = self.workspace.renamed_fields.get(dotted(source.value), {})
            if not fields or any(keyword(call, new) for new in fields.values()):
                continue
            row = cst.Module([]).code_for_node(comp.value.value)
            k = loop.target.value
            tests = [c.test for c in loop.ifs]
            tests += [cst.parse_expression(f'{k} != "{new}"') for new in sorted(fields.values())]
            test = tests[0]
            for more in tests[1:]:
                test = cst.BooleanOperation(test, cst.And(), more)
            loop = loop.with_changes(ifs=[cst.CompIf(test=test)])
            i = args.index(arg)
            args[i] = arg.with_changes(value=comp.with_changes(for_in=loop))
            call = call.with_changes(args=args)
            for old, new in sorted(fields.items()):
                call = add_keyword(call, new, cst.parse_expression(f'{row}["{old}"]'))
            args = list(call.args)
        return call

    def renamed_strings(self, value: cst.BaseExpression) -> cst.BaseExpression:
        if isinstance(value, cst.Set | cst.List | cst.Tuple):
            elements = []
            for e in value.elements:
                text = string_value(e.value)
                if text in self.renames:
                    e = e.with_changes(value=quoted(self.renames[text]))
                elements.append(e)
            return value.with_changes(elements=elements)
        return value

    # pydantic fields: the Python name changes, the wire name stays as the alias
    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        fields: set[str] = set()
        bases = {last_name(b.value) for b in node.bases}
        if bases & (self.workspace.models | PYDANTIC_ROOTS):
            fields = {
                s.target.value
                for line in node.body.body
                if isinstance(line, cst.SimpleStatementLine)
                for s in line.body
                if isinstance(s, cst.AnnAssign)
                and isinstance(s.target, cst.Name)
                and s.target.value in self.renames
            }
        self.field_classes.append(fields)

    def leave_ClassDef(
        self, original_node: cst.ClassDef, updated_node: cst.ClassDef
    ) -> cst.ClassDef:
        fields = self.field_classes.pop()
        if not fields:
            return updated_node
        wire = {self.renames[old]: old for old in fields}
        body: list[cst.BaseStatement] = []
        configured = False
        for line in updated_node.body.body:
            if isinstance(line, cst.SimpleStatementLine):
                statements = []
                for s in line.body:
                    if isinstance(s, cst.AnnAssign) and isinstance(s.target, cst.Name):
                        if s.target.value in wire:
                            s = self.aliased_field(s, wire[s.target.value])
                    elif is_model_config(s):
                        assert isinstance(s, cst.Assign)
                        s = s.with_changes(value=self.configured(s.value))
                        configured = True
                    statements.append(s)
                line = line.with_changes(body=statements)
            body.append(line)
        if not configured:
            config_dict = self.needs.add("pydantic", "ConfigDict")
            config = cst.parse_statement(
                f"model_config = {config_dict}("
                + ", ".join(f"{flag}=True" for flag in MODEL_FLAGS)
                + ")\n"
            )
            at = 1 if body and is_docstring(body[0]) else 0
            body.insert(at, config)
        return updated_node.with_changes(body=updated_node.body.with_changes(body=body))

    def aliased_field(self, node: cst.AnnAssign, wire: str) -> cst.AnnAssign:
        value = node.value
        if isinstance(value, cst.Call) and last_name(value.func) == "Field":
            if keyword(value, "alias") is not None:
                return node
            return node.with_changes(value=add_keyword(value, "alias", quoted(wire)))
        field_call = cst.Call(func=cst.Name(self.needs.add("pydantic", "Field")), args=[])
        if value is not None:
            field_call = insert_positional(field_call, 0, value)
        field_call = add_keyword(field_call, "alias", quoted(wire))
        return node.with_changes(
            value=field_call,
            equal=cst.AssignEqual(cst.SimpleWhitespace(" "), cst.SimpleWhitespace(" ")),
        )

    def configured(self, value: cst.BaseExpression) -> cst.BaseExpression:
        if isinstance(value, cst.Call) and last_name(value.func) == "ConfigDict":
            for flag in MODEL_FLAGS:
                value = add_keyword(value, flag, cst.Name("True"))
            return value
        self.problems.append("model_config is not a ConfigDict(...) call: add the flags by hand")
        return value

    # functions FastAPI or Typer calls: their parameters' outside names stay
    def leave_FunctionDef(
        self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef
    ) -> cst.FunctionDef:
        self.functions.pop()
        olds = [p.name.value for p in all_params(original_node.params)]
        if not set(olds) & self.renames.keys():
            return updated_node
        updated_node = self.documented(updated_node, set(olds) & self.renames.keys())
        route = route_path(original_node)
        fastapi = route is not None or original_node.name.value in self.workspace.dependencies
        params = list(all_params(updated_node.params))
        changed: dict[int, cst.Param] = {}
        for index, (old, param) in enumerate(zip(olds, params, strict=True)):
            if old not in self.renames:
                continue
            new = self.typer_param(param, old)
            if new is param and fastapi:
                path = f"{{{old}}}" in f"{self.prefix}{route or ''}"
                new = self.http_param(param, old, path)
            if new is not param:
                changed[index] = new
        if not changed:
            return updated_node
        return updated_node.with_changes(params=replace_params(updated_node.params, changed))

    def documented(self, node: cst.FunctionDef, olds: set[str]) -> cst.FunctionDef:
        """Its docstring's ````pre_id```` becomes ````tenant```` where it names a parameter."""
        body = node.body
        first = body.body[0] if isinstance(body, cst.IndentedBlock) and body.body else None
        if first is None or not is_docstring(first):
            return node
        assert isinstance(first, cst.SimpleStatementLine)
        expr = first.body[0]
        assert isinstance(expr, cst.Expr)
        if not isinstance(expr.value, cst.SimpleString):
            return node
        text = expr.value.value
        for old in olds:
            text = text.replace(f"``{old}``", f"``{self.renames[old]}``")
        if text == expr.value.value:
            return node
        line = first.with_changes(body=[expr.with_changes(value=cst.SimpleString(text))])
        return node.with_changes(body=body.with_changes(body=[line, *body.body[1:]]))

    def typer_param(self, param: cst.Param, old: str) -> cst.Param:
        places = [("default", param.default)]
        if param.annotation is not None:
            places.insert(0, ("annotation", param.annotation.annotation))
        for where, node in places:
            if node is None:
                continue
            for call in calls_in(node):
                kind = dotted(call.func)
                if kind not in {"typer.Option", "typer.Argument"}:
                    continue
                fixed = typer_call(call, old, in_default=where == "default")
                if fixed is call:
                    return param
                return param.deep_replace(call, fixed)  # type: ignore[arg-type]
        return param

    def http_param(self, param: cst.Param, old: str, path: bool) -> cst.Param:
        places = [param.default] if param.default is not None else []
        if param.annotation is not None:
            places.append(param.annotation.annotation)
        for node in places:
            for call in calls_in(node):
                if last_name(call.func) in DEPENDENCIES:
                    return param
                if last_name(call.func) in HTTP_PARAMS:
                    fixed = add_keyword(call, "alias", quoted(old))
                    return param.deep_replace(call, fixed)  # type: ignore[arg-type]
        annotation = param.annotation.annotation if param.annotation else None
        if isinstance(annotation, cst.Name) and annotation.value in self.aliases:
            defined = self.aliases[annotation.value]
            if any(last_name(c.func) in DEPENDENCIES for c in calls_in(defined)):
                return param
            if any(last_name(c.func) in HTTP_PARAMS for c in calls_in(defined)):
                self.alias_fixes[annotation.value] = old
                return param
        if annotation is None or (
            isinstance(annotation, cst.Name) and annotation.value in {"Request", "Principal"}
        ):
            return param
        kind = self.needs.add("fastapi", "Path" if path else "Query")
        annotated = self.needs.add("typing", "Annotated")
        wrapped = cst.parse_expression(f'{annotated}[_, {kind}(alias="{old}")]')
        assert isinstance(wrapped, cst.Subscript)
        first = wrapped.slice[0].with_changes(slice=cst.Index(value=annotation))
        wrapped = wrapped.with_changes(slice=[first, *wrapped.slice[1:]])
        assert param.annotation is not None
        return param.with_changes(annotation=param.annotation.with_changes(annotation=wrapped))


def typer_call(call: cst.Call, old: str, *, in_default: bool) -> cst.Call:
    if dotted(call.func) == "typer.Argument":
        if keyword(call, "metavar") is not None:
            return call
        return add_keyword(call, "metavar", quoted(old.upper()))
    positional = [a for a in call.args if a.keyword is None]
    declared = [a for a in positional if (string_value(a.value) or "").startswith("-")]
    if declared:
        return call
    flag = quoted("--" + old.replace("_", "-"))
    return insert_positional(call, 1 if in_default and positional else 0, flag)


def with_param_alias(value: cst.BaseExpression, wire: str) -> cst.BaseExpression:
    for call in calls_in(value):
        if last_name(call.func) in HTTP_PARAMS:
            return value.deep_replace(call, add_keyword(call, "alias", quoted(wire)))
    return value


def all_params(params: cst.Parameters) -> list[cst.Param]:
    star = [params.star_arg] if isinstance(params.star_arg, cst.Param) else []
    extra = [params.star_kwarg] if params.star_kwarg is not None else []
    return [*params.posonly_params, *params.params, *star, *params.kwonly_params, *extra]


def replace_params(params: cst.Parameters, changed: dict[int, cst.Param]) -> cst.Parameters:
    index = 0
    out: dict[str, object] = {}
    for group in ("posonly_params", "params"):
        items = list(getattr(params, group))
        for i in range(len(items)):
            items[i] = changed.get(index, items[i])
            index += 1
        out[group] = items
    if isinstance(params.star_arg, cst.Param):
        out["star_arg"] = changed.get(index, params.star_arg)
        index += 1
    kwonly = list(params.kwonly_params)
    for i in range(len(kwonly)):
        kwonly[i] = changed.get(index, kwonly[i])
        index += 1
    out["kwonly_params"] = kwonly
    if params.star_kwarg is not None:
        out["star_kwarg"] = changed.get(index, params.star_kwarg)
    return params.with_changes(**out)


def route_path(node: cst.FunctionDef) -> str | None:
    """The path of a route's decorator (``@router.get("/x/{id}")``), else None."""
    for decorator in node.decorators:
        call = decorator.decorator
        if (
            isinstance(call, cst.Call)
            and isinstance(call.func, cst.Attribute)
            and call.func.attr.value in ROUTE_METHODS
        ):
            first = call.args[0].value if call.args else None
            return (string_value(first) if first is not None else None) or ""
    return None


def is_docstring(line: cst.BaseStatement) -> bool:
    return (
        isinstance(line, cst.SimpleStatementLine)
        and len(line.body) == 1
        and isinstance(line.body[0], cst.Expr)
        and isinstance(line.body[0].value, cst.SimpleString | cst.ConcatenatedString)
    )


def is_model_config(statement: cst.BaseSmallStatement) -> bool:
    return (
        isinstance(statement, cst.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0].target, cst.Name)
        and statement.targets[0].target.value == "model_config"
    )


def imported(alias: cst.ImportAlias) -> str:
    name, local = str(alias.evaluated_name), alias.evaluated_alias
    return name if local is None else f"{name} as {local}"


def import_alias(entry: str) -> cst.ImportAlias:
    name, _, local = entry.partition(" as ")
    asname = cst.AsName(name=cst.Name(local)) if local else None
    return cst.ImportAlias(name=cst.Name(name), asname=asname)


def add_imports(module: cst.Module, needed: dict[str, set[str]]) -> cst.Module:
    """``from <module> import <name>`` for each name the module does not import yet."""
    body = list(module.body)
    for source, names in sorted(needed.items()):
        have: set[str] = set()
        target: int | None = None
        for i, line in enumerate(body):
            if not isinstance(line, cst.SimpleStatementLine):
                continue
            for s in line.body:
                if (
                    isinstance(s, cst.ImportFrom)
                    and s.module is not None
                    and dotted(s.module) == source
                    and not isinstance(s.names, cst.ImportStar)
                ):
                    have |= {imported(a) for a in s.names}
                    target = i
        missing = sorted(names - have)
        if not missing:
            continue
        if target is not None:
            line = body[target]
            assert isinstance(line, cst.SimpleStatementLine)
            statement = line.body[0]
            assert isinstance(statement, cst.ImportFrom)
            assert not isinstance(statement.names, cst.ImportStar)
            aliases = list(statement.names)
            aliases[-1] = aliases[-1].with_changes(
                comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
            )
            aliases += [import_alias(n) for n in missing]
            aliases[-1] = aliases[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
            body[target] = line.with_changes(
                body=[statement.with_changes(names=aliases, rpar=None, lpar=None)]
            )
            continue
        new = cst.parse_statement(f"from {source} import {', '.join(missing)}\n")
        at = 0
        for i, line in enumerate(body):
            if isinstance(line, cst.SimpleStatementLine) and any(
                isinstance(s, cst.Import | cst.ImportFrom) for s in line.body
            ):
                at = i + 1
            elif i == 0 and is_docstring(line):
                at = 1
        body.insert(at, new)
    return module.with_changes(body=body)


# --- driver ---


@dataclass
class Outcome:
    changed: list[Path] = field(default_factory=list)
    clashes: list[Clash] = field(default_factory=list)


def renames_for(path: str) -> dict[str, str]:
    return {**RENAMES, **FILE_RENAMES.get(path, {})}


def mentions(source: str, names: dict[str, str]) -> bool:
    """Whether ``source`` may name one of ``names``: as a name, in an f-string, or as a
    string that is exactly the name (``getattr(x, "pre_id")``); a cheap first look."""
    if "model_fields" in source:  # may read a renamed field's column (columns_by_field)
        return True
    inside = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b")
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.NAME and token.string in names:
            return True
        if token.type == tokenize.STRING:
            prefix = token.string[: token.string.index(token.string[-1])].lower()
            if "f" in prefix and inside.search(token.string):
                return True
            if token.string[len(prefix) + 1 : -1].replace(" ", "").strip(",") in names:
                return True
            if inside.search(token.string) and "," in token.string:  # parametrize, __all__
                return True
    return False


def run(paths: Sequence[str], *, write: bool) -> Outcome:
    files = python_files(paths)
    sources = {p: p.read_text() for p in files}
    trees = {p: cst.parse_module(text) for p, text in sources.items()}
    workspace = survey(trees) if not paths else survey(parse_all())
    outcome = Outcome()
    for path in files:
        name = rel(path)
        renames = renames_for(name)
        if not mentions(sources[path], renames):
            continue
        wrapper = MetadataWrapper(trees[path])
        finder = _ClashFinder(name, renames, workspace)
        wrapper.visit(finder)
        finder.finish()
        if finder.clashes:
            outcome.clashes += sorted(set(finder.clashes), key=lambda c: c.line)
            continue
        renamer = Renamer(name, renames, workspace)
        new = wrapper.module.visit(renamer).code
        if renamer.problems:
            outcome.clashes += [Clash(name, 1, p) for p in renamer.problems]
            continue
        if new != sources[path]:
            outcome.changed.append(path)
            if write:
                path.write_text(new)
    for template, old, new in TEMPLATE_EDITS:
        path = REPO / template
        text = path.read_text()
        if old in text:
            outcome.changed.append(path)
            if write:
                path.write_text(text.replace(old, new))
    return outcome


def parse_all() -> dict[Path, cst.Module]:
    return {p: cst.parse_module(p.read_text()) for p in python_files(())}


def format_files(files: Iterable[Path]) -> None:
    python = [str(p) for p in files if p.suffix == ".py"]
    if not python:
        return
    ruff = [sys.executable, "-m", "ruff"]
    # our own interpreter's ruff, on the files just written: nothing untrusted
    subprocess.run([*ruff, "check", "-q", "--fix", "--select", "I", *python], check=False)  # noqa: S603
    subprocess.run([*ruff, "format", "--quiet", *python], check=True)  # noqa: S603


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", help="files or folders (default: the workspace)")
    parser.add_argument("--check", action="store_true", help="list what would change")
    args = parser.parse_args(argv)
    outcome = run(args.paths, write=not args.check)
    for clash in outcome.clashes:
        print(f"clash: {clash}", file=sys.stderr)
    for path in outcome.changed:
        print(("would change: " if args.check else "changed: ") + rel(path))
    if not args.check:
        format_files(outcome.changed)
    print(f"{len(outcome.changed)} files, {len(outcome.clashes)} clashes", file=sys.stderr)
    return 1 if outcome.clashes else 0


if __name__ == "__main__":
    sys.exit(main())
