"""Read picamera2's API from its source with ast, and check code that uses it.

Why: picamera2 only runs on a Pi (its libcamera binding is built there), so the adapter cannot be
run against it here. Its source can be read, though: the Makefile installs picamera2 without
dependencies into .venv/picamera2-ref. This module extracts, from that source, every class with its
methods' parameters, properties and instance attributes, and from focusd's adapter every use of
them (receivers are recognised by name: ``picam2`` / ``self._picam2`` / ``Picamera2`` are a
Picamera2, ``request`` a CompletedRequest, ``mapped`` a MappedArray), every libcamera control
name and every stream / sensor configuration key. Control names are every constant key used on a
control or metadata dict, whatever its case (``metadata["exposureTime"]`` is caught, not skipped
for not looking like a control): a subscript, ``.get`` or ``in`` on ``metadata`` /
``get_metadata()`` / ``camera_controls`` / a ``*controls`` name (or a name assigned one), and the
keys of a dict literal given to ``set_controls`` or ``controls=``, assigned to such a name or
returned by a ``*controls`` function; elsewhere, any constant that looks like a control name
(``^[A-Z][A-Za-z0-9]+$``). The same reader parses the stand-in used by the adapter's behaviour
tests, whose signatures must equal the real ones.

Run as a script to check the adapter's modules (or one file): ``python tests/hw/picamera2_api.py [FILE.py]``.
"""

from __future__ import annotations

import ast
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ADAPTER = REPO / "firmware" / "focusd" / "hw" / "picamera2_camera.py"
#: every focusd module that uses picamera2 or libcamera names: the adapter and the parts moved out of it
ADAPTER_MODULES = tuple(ADAPTER.parent / name for name in (
    "picamera2_camera.py", "picamera2_exposure.py", "picamera2_raw.py", "picamera2_probe.py"))
STANDIN = Path(__file__).resolve().parent / "standin"
CONTROL_IDS = Path(__file__).resolve().parent / "libcamera_control_ids.txt"

#: the modules of picamera2 whose classes the adapter uses (and the stand-in mirrors)
MODULES = ("picamera2.py", "request.py", "job.py", "sensor_format.py")
#: receiver expression in the adapter -> the picamera2 class it holds
RECEIVERS = {"picam2": "Picamera2", "self._picam2": "Picamera2", "Picamera2": "Picamera2",
             "request": "CompletedRequest", "mapped": "MappedArray", "sensor_format": "SensorFormat"}
#: what the adapter must be seen to use; guards against the extraction silently finding nothing
#: (e.g. after a receiver is renamed)
REQUIRED_USES = {
    ("Picamera2", "__init__"), ("Picamera2", "global_camera_info"), ("Picamera2", "camera_controls"),
    ("Picamera2", "camera_properties"), ("Picamera2", "sensor_modes"),
    ("Picamera2", "create_still_configuration"), ("Picamera2", "configure"), ("Picamera2", "start"),
    ("Picamera2", "stream_configuration"), ("Picamera2", "capture_request"), ("Picamera2", "wait"),
    ("Picamera2", "set_controls"), ("Picamera2", "switch_mode"), ("Picamera2", "stop"), ("Picamera2", "close"),
    ("Picamera2", "cancel_all_and_flush"), ("CompletedRequest", "get_metadata"),
    ("CompletedRequest", "make_array"), ("CompletedRequest", "release"), ("MappedArray", "__init__"),
    ("MappedArray", "__enter__"), ("MappedArray", "__exit__"), ("MappedArray", "array"),
}
REQUIRED_CONTROLS = {"AfMode", "LensPosition", "FrameDurationLimits", "SensorTimestamp", "ExposureTime",
                     "AnalogueGain", "FrameDuration"}
_CONTROL_NAME = re.compile(r"^[A-Z][A-Za-z0-9]+$")
#: an expression (its source) that holds a control or metadata dict: metadata, md, controls,
#: lens_controls, picam2.camera_controls, request.get_metadata() ...
_CONTROL_DICT = re.compile(r"(?:^|[._])(?:metadata|md|controls|camera_ctrl_info)(?:\(\))?$")
#: a function whose returned dict literals are control dicts (_lens_controls, denoise_controls)
_CONTROL_FUNCTION = re.compile(r"(?:^|_)controls$")
#: an enum of the libcamera binding: controls.AfModeEnum, controls.draft.NoiseReductionModeEnum
_ENUM = re.compile(r"controls\.((?:draft\.)?\w+)Enum")


class ReferenceMissing(Exception):
    """picamera2's source is not installed where the tests look."""


def locate_reference() -> Path:
    """The folder ``picamera2/`` of the installed reference source (never imported)."""
    candidates = []
    if os.environ.get("PICAMERA2_REF"):
        candidates.append(Path(os.environ["PICAMERA2_REF"]) / "picamera2")
    candidates += [Path(sys.prefix) / "picamera2-ref" / "picamera2", REPO / ".venv" / "picamera2-ref" / "picamera2"]
    for folder in candidates:
        if (folder / "picamera2.py").is_file():
            return folder
    for venv in (Path(sys.prefix), REPO / ".venv"):
        for found in sorted(venv.glob("**/picamera2/picamera2.py")):
            if STANDIN not in found.parents:
                return found.parent
    raise ReferenceMissing("picamera2's source not found: set PICAMERA2_REF or run `make test` (the Makefile "
                           f"installs it with --no-deps into .venv/picamera2-ref); looked in {candidates}")


# ------------------------------------------------------------------------------ reading an API


@dataclass(frozen=True)
class Signature:
    params: tuple[tuple[str, str, str | None], ...]  #: (name, kind, default source) without self
    var_positional: bool
    var_keyword: bool
    kind: str  #: "method", "staticmethod", "classmethod", "property"

    def describe(self) -> str:
        shown = [name + ("" if default is None else "=" + default) for name, _, default in self.params]
        return f"{self.kind}({', '.join(shown)})"


@dataclass
class ClassApi:
    name: str
    module: str
    members: dict[str, Signature] = field(default_factory=dict)
    attributes: set[str] = field(default_factory=set)  #: self.X assigned anywhere in the class


def _decorators(node: ast.FunctionDef) -> list[str]:
    return [ast.unparse(d) for d in node.decorator_list]


def _signature(node: ast.FunctionDef) -> Signature:
    decorators = _decorators(node)
    kind = "method"
    if "staticmethod" in decorators:
        kind = "staticmethod"
    elif "classmethod" in decorators:
        kind = "classmethod"
    elif "property" in decorators:
        kind = "property"
    args = node.args
    positional = args.posonlyargs + args.args
    defaults = [None] * (len(positional) - len(args.defaults)) + [ast.unparse(d) for d in args.defaults]
    params = [(a.arg, "positional", d) for a, d in zip(positional, defaults)]
    params += [(a.arg, "keyword", None if d is None else ast.unparse(d)) for a, d in zip(args.kwonlyargs, args.kw_defaults)]
    if kind in ("method", "classmethod", "property") and params:
        params = params[1:]  # self / cls
    return Signature(tuple(params), args.vararg is not None, args.kwarg is not None, kind)


def read_classes(source: str, module: str) -> dict[str, ClassApi]:
    classes = {}
    for node in ast.parse(source).body:
        if not isinstance(node, ast.ClassDef):
            continue
        api = ClassApi(node.name, module)
        for item in node.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                decorators = _decorators(item)
                if "overload" in decorators or any(d.endswith(".setter") for d in decorators):
                    continue  # typing stubs and setters: the implementation / getter is what counts
                api.members[item.name] = _signature(item)
        for sub in ast.walk(node):
            targets = sub.targets if isinstance(sub, ast.Assign) else [sub.target] if isinstance(sub, ast.AnnAssign) else []
            for target in targets:
                if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self":
                    api.attributes.add(target.attr)
        classes[node.name] = api
    return classes


def read_exports(init_source: str) -> set[str]:
    names = set()
    for node in ast.parse(init_source).body:
        if isinstance(node, ast.ImportFrom):
            names.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
    return names


@dataclass
class PackageApi:
    folder: Path
    classes: dict[str, ClassApi]
    exports: set[str]
    stream_keys: tuple[str, ...]  #: picamera2's valid stream configuration keys
    sensor_keys: set[str]  #: picamera2's allowed keys of the "sensor" configuration


def _literal_in(tree: ast.AST, function: str, variable: str):
    """The literal value assigned to ``variable`` inside ``function`` (None if absent)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == function:
            for sub in ast.walk(node):
                if isinstance(sub, ast.Assign) and any(isinstance(t, ast.Name) and t.id == variable for t in sub.targets):
                    return ast.literal_eval(sub.value)
    return None


def read_package(folder: Path) -> PackageApi:
    classes: dict[str, ClassApi] = {}
    for module in MODULES:
        path = folder / module
        if path.is_file():
            classes.update(read_classes(path.read_text(), module))
    main = ast.parse((folder / "picamera2.py").read_text())
    stream_keys = _literal_in(main, "_make_initial_stream_config", "valid") or ()
    sensor_keys = _literal_in(main, "check_camera_config", "allowed_keys") or set()
    return PackageApi(folder, classes, read_exports((folder / "__init__.py").read_text()), tuple(stream_keys), set(sensor_keys))


def _control_lines(path: Path):
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            qualified, _, members = line.partition(":")
            namespace, _, name = qualified.strip().rpartition(".")
            yield namespace, name, {m.split("=")[0]: int(m.split("=")[1]) for m in members.split()}


def read_control_ids(path: Path = CONTROL_IDS) -> dict[str, dict[str, int]]:
    """libcamera control name -> enum members (empty for non-enum controls)."""
    return {name: members for _, name, members in _control_lines(path)}


def read_control_namespaces(path: Path = CONTROL_IDS) -> dict[str, str]:
    """libcamera control name -> the binding's namespace of its enum ("" core, "draft")."""
    return {name: namespace for namespace, name, _ in _control_lines(path)}


# ------------------------------------------------------------------------------ reading a user


@dataclass(frozen=True)
class Use:
    cls: str
    member: str
    line: int
    called: bool
    positional: int = 0
    keywords: tuple[str, ...] = ()


@dataclass
class Usage:
    uses: list[Use] = field(default_factory=list)
    imports: list[tuple[str, str, int]] = field(default_factory=list)  #: (module, name, line)
    controls: list[tuple[str, int]] = field(default_factory=list)
    enums: list[tuple[str, str, int]] = field(default_factory=list)  #: (control, member, line); control
    #: is namespaced as the binding names it ("AfMode", "draft.NoiseReductionMode")
    stream_keys: list[tuple[str, int]] = field(default_factory=list)
    sensor_keys: list[tuple[str, int]] = field(default_factory=list)


def _call_shape(call: ast.Call) -> tuple[int, tuple[str, ...]]:
    return len(call.args), tuple(k.arg for k in call.keywords if k.arg is not None)


def _holds_controls(node: ast.AST, aliases: set[str]) -> bool:
    """Whether ``node`` is an expression holding a control / metadata dict."""
    text = ast.unparse(node)
    return bool(_CONTROL_DICT.search(text)) or text in aliases


def _control_dicts(tree: ast.AST) -> tuple[set[int], set[str]]:
    """(ids of the dict literals that are control dicts, names assigned a control dict)."""
    aliases: set[str] = set()
    for node in ast.walk(tree):  # controls = picam2.camera_controls; info = request.get_metadata()
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None and _holds_controls(node.value, set()):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            aliases.update(ast.unparse(t) for t in targets)
    literals: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute) and node.func.attr == "set_controls":
                literals += node.args
            literals += [k.value for k in node.keywords if k.arg == "controls"]
        elif isinstance(node, ast.Assign) and any(_holds_controls(t, aliases) for t in node.targets):
            literals.append(node.value)
        elif isinstance(node, ast.AnnAssign) and node.value is not None and _holds_controls(node.target, aliases):
            literals.append(node.value)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _CONTROL_FUNCTION.search(node.name):
            literals += [sub.value for sub in ast.walk(node) if isinstance(sub, ast.Return) and sub.value is not None]
    return {id(node) for node in literals if isinstance(node, ast.Dict)}, aliases


def read_usage(source: str) -> Usage:
    tree = ast.parse(source)
    usage = Usage()
    calls = {id(node.func): node for node in ast.walk(tree) if isinstance(node, ast.Call)}
    control_literals, aliases = _control_dicts(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("picamera2", "libcamera"):
            usage.imports += [(node.module, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.Attribute):
            receiver = ast.unparse(node.value)
            if receiver in RECEIVERS:
                call = calls.get(id(node))
                positional, keywords = _call_shape(call) if call else (0, ())
                usage.uses.append(Use(RECEIVERS[receiver], node.attr, node.lineno, call is not None, positional, keywords))
            match = _ENUM.fullmatch(receiver)
            if match:
                usage.enums.append((match.group(1), node.attr, node.lineno))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in (
                "Picamera2", "MappedArray", "SensorFormat"):
            positional, keywords = _call_shape(node)
            usage.uses.append(Use(node.func.id, "__init__", node.lineno, True, positional, keywords))
            if node.func.id == "MappedArray":  # used as a context: entered and left by hand
                for member in ("__enter__", "__exit__"):
                    usage.uses.append(Use("MappedArray", member, node.lineno, False))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr.startswith("create_") \
                and node.func.attr.endswith("_configuration"):
            for keyword in node.keywords:
                if isinstance(keyword.value, ast.Dict):
                    target = usage.sensor_keys if keyword.arg == "sensor" else usage.stream_keys if keyword.arg in (
                        "main", "lores", "raw") else None
                    if target is not None:
                        target += [(k.value, node.lineno) for k in keyword.value.keys if isinstance(k, ast.Constant)]
        # control names: dict keys, subscripts, .get("X"), "X" in ...; on a control dict whatever
        # their case, elsewhere when they look like a control name
        names, on_controls = [], False
        if isinstance(node, ast.Dict):
            names = [k for k in node.keys if isinstance(k, ast.Constant)]
            on_controls = id(node) in control_literals
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            names, on_controls = [node.slice], _holds_controls(node.value, aliases)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" and node.args \
                and isinstance(node.args[0], ast.Constant):
            names, on_controls = [node.args[0]], _holds_controls(node.func.value, aliases)
        elif isinstance(node, ast.Compare) and isinstance(node.left, ast.Constant) and isinstance(node.ops[0], (ast.In, ast.NotIn)):
            names, on_controls = [node.left], _holds_controls(node.comparators[0], aliases)
        usage.controls += [(n.value, n.lineno) for n in names
                           if isinstance(n.value, str) and (on_controls or _CONTROL_NAME.match(n.value))]
    return usage


# ------------------------------------------------------------------------------------ checking


def check_usage(usage: Usage, api: PackageApi, control_ids: dict[str, dict[str, int]],
                namespaces: dict[str, str] | None = None) -> list[str]:
    """Every problem with ``usage`` against ``api`` (empty: all names and keywords exist).
    ``namespaces``: each control's enum namespace (default: read from CONTROL_IDS)."""
    if namespaces is None:
        namespaces = read_control_namespaces()
    problems = []
    for module, name, line in usage.imports:
        if module == "picamera2" and name not in api.exports:
            problems.append(f"line {line}: picamera2 exports no {name!r}")
        if module == "libcamera" and name != "controls":
            problems.append(f"line {line}: libcamera.{name} is not checked: only `controls` is known")
    for use in usage.uses:
        cls = api.classes.get(use.cls)
        where = f"line {use.line}: {use.cls}.{use.member}"
        if cls is None:
            problems.append(f"{where}: no class {use.cls} in {api.folder}")
            continue
        signature = cls.members.get(use.member)
        if signature is None:
            if use.called or use.member not in cls.attributes:
                problems.append(f"{where}: no such {'method' if use.called else 'member'} in {cls.module}")
            continue
        if use.called and signature.kind == "property":
            problems.append(f"{where}: is a property, not a method")
        if not use.called:
            if signature.kind != "property" and use.member not in ("__enter__", "__exit__"):
                problems.append(f"{where}: is a method, used as a value")
            continue
        names = [name for name, _, _ in signature.params]
        positional = [name for name, kind, _ in signature.params if kind == "positional"]
        for keyword in use.keywords:
            if keyword not in names and not signature.var_keyword:
                problems.append(f"{where}: no keyword {keyword!r} (signature {signature.describe()})")
        if use.positional > len(positional) and not signature.var_positional:
            problems.append(f"{where}: {use.positional} positional arguments, takes {len(positional)}")
        given = set(positional[:use.positional]) | set(use.keywords)
        missing = [name for name, _, default in signature.params if default is None and name not in given]
        if missing:
            problems.append(f"{where}: missing required {missing} (signature {signature.describe()})")
    for name, line in usage.controls:
        if name not in control_ids:
            problems.append(f"line {line}: {name!r} is not a libcamera control id")
    for qualified, member, line in usage.enums:
        namespace, _, control = qualified.rpartition(".")
        if control in control_ids and namespaces.get(control, "") != namespace:
            where = namespaces.get(control, "")
            problems.append(f"line {line}: controls.{qualified}Enum: the binding has it as "
                            f"controls.{where + '.' if where else ''}{control}Enum")
        elif member not in control_ids.get(control, {}):
            problems.append(f"line {line}: controls.{qualified}Enum has no member {member!r}")
    for key, line in usage.stream_keys:
        if key not in api.stream_keys:
            problems.append(f"line {line}: stream configuration key {key!r} is not one of {api.stream_keys}")
    for key, line in usage.sensor_keys:
        if key not in api.sensor_keys:
            problems.append(f"line {line}: sensor configuration key {key!r} is not one of {sorted(api.sensor_keys)}")
    return problems


def adapter_usages() -> dict[str, Usage]:
    """Each of ADAPTER_MODULES' uses, by file name."""
    return {path.name: read_usage(path.read_text()) for path in ADAPTER_MODULES}


def merged(usages) -> Usage:
    """One Usage of several modules' (for what must be used somewhere among them)."""
    total = Usage()
    for usage in usages:
        for name in ("uses", "imports", "controls", "enums", "stream_keys", "sensor_keys"):
            getattr(total, name).extend(getattr(usage, name))
    return total


def missing_uses(usage: Usage) -> set[tuple[str, str]]:
    return REQUIRED_USES - {(use.cls, use.member) for use in usage.uses}


def check_standin(standin: PackageApi, real: PackageApi) -> list[str]:
    """The stand-in may only offer what the real picamera2 offers, with identical signatures."""
    problems = [f"stand-in exports {name!r}, picamera2 does not" for name in sorted(standin.exports - real.exports)]
    for name, cls in standin.classes.items():
        real_cls = real.classes.get(name)
        if real_cls is None or real_cls.module != cls.module:
            problems.append(f"stand-in class {cls.module}:{name} is not in picamera2's {cls.module}")
            continue
        for member, signature in cls.members.items():
            if member.startswith("_") and not (member.startswith("__") and member.endswith("__")):
                continue  # the stand-in's own machinery
            real_signature = real_cls.members.get(member)
            if real_signature is None:
                problems.append(f"stand-in {name}.{member} does not exist in picamera2")
            elif real_signature != signature:
                problems.append(f"stand-in {name}.{member} is {signature.describe()}, picamera2's is {real_signature.describe()}")
    if standin.stream_keys != real.stream_keys:
        problems.append(f"stand-in stream keys {standin.stream_keys} differ from picamera2's {real.stream_keys}")
    if standin.sensor_keys and standin.sensor_keys != real.sensor_keys:
        problems.append(f"stand-in sensor keys {standin.sensor_keys} differ from picamera2's {real.sensor_keys}")
    return problems


def check_file(path: Path = ADAPTER) -> list[str]:
    return check_usage(read_usage(path.read_text()), read_package(locate_reference()), read_control_ids())


def check_adapter() -> list[str]:
    """Every problem of ADAPTER_MODULES, each prefixed with its file's name, and the REQUIRED_USES
    none of them uses."""
    usages = adapter_usages()
    problems = [f"{name}: {problem}" for name in usages for problem in check_file(ADAPTER.parent / name)]
    problems += [f"{cls}.{member} is not used any more (or no longer recognised): update REQUIRED_USES"
                 for cls, member in sorted(missing_uses(merged(usages.values())))]
    return problems


if __name__ == "__main__":
    found = check_file(Path(sys.argv[1])) if len(sys.argv) > 1 else check_adapter()
    for problem in found:
        print(problem)
    print(f"{len(found)} problem(s)")
    sys.exit(1 if found else 0)
