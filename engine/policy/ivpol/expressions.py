"""CEL for ImageValidatingPolicy: Kyverno's environment, compiled and evaluated with cel-expr-python.

Kyverno compiles every expression with cel-go against a typed environment
(`pkg/image/verification/evaluator/compiler.go`): `object`, `oldObject`, `request`,
`namespaceObject`, `images` (map of string to list of string), `attestors` (map of string to dyn),
`attestations` (map of string to string), `variables.<name>` typed by each variable's own
expression, the image library of kyverno/sdk (`image()`, `.registry()`, …) and the image
verification library (`verifyImageSignatures`, `verifyAttestationSignatures`, `extractPayload`).
matchImageReferences expressions have only `ref` and the image library.

cel-expr-python wraps the CEL C++ implementation: the same grammar and the same checker errors
(`ERROR: <input>:1:16: …`), overload resolution and output types at compile time, as cel-go.
Two things are shaped to fit it: an image value is a map at run time (the library has no opaque
values), and the verification functions dispatch through a context variable to the verifier of
the evaluation in progress (declared once, bound per evaluation).
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, Protocol

from cel_expr_python import cel
from cel_expr_python.ext import ext_bindings, ext_encoders, ext_math, ext_optional, ext_strings

from ...reference import InvalidReference, parse_reference

T = cel.Type
Expected = Literal["bool", "string", "any", "audit", "images"]


class Verification(Protocol):
    """What the verification functions ask of pullguard while an expression runs."""

    def verify_image_signatures(self, image: str, attestors: Sequence[Any]) -> int: ...

    def verify_attestation_signatures(self, image: str, attestation: str, attestors: Sequence[Any]) -> int: ...

    def extract_payload(self, image: str, attestation: str) -> Any: ...


class CelRuntimeError(Exception):
    """An expression failed while running (CEL's error value, or a failure of a function)."""


class NotSimulated(Exception):
    """A verification function was called where no verification runs (simulate, explain)."""


_VERIFICATION: contextvars.ContextVar[Verification | None] = contextvars.ContextVar("ivpol_verification", default=None)


def _verification() -> Verification:
    current = _VERIFICATION.get()
    if current is None:
        raise NotSimulated("image verification functions run only when verifying")
    return current


@contextmanager
def verifying(verification: Verification) -> Iterator[None]:
    """Bind the verification functions to `verification` for the expressions run inside."""
    token = _VERIFICATION.set(verification)
    try:
        yield
    finally:
        _VERIFICATION.reset(token)


# --- kyverno/sdk extensions/cel/libs/image: go-containerregistry name.ParseReference -------------

_IMAGE = T.Map(T.STRING, T.STRING)  # Kyverno's opaque `kyverno.image`, as a map at run time


def image_value(text: str) -> dict[str, str]:
    try:
        ref = parse_reference(text)
    except InvalidReference as error:
        raise ValueError(error.reason) from None
    return {
        "registry": ref.registry,
        "repository": ref.repository,
        "identifier": ref.digest or ref.tag or "",
        "tag": ref.tag or "" if ref.digest is None else "",  # name.Tag only: a digest reference has none
        "digest": ref.digest or "",
    }


def _is_image(text: str) -> bool:
    try:
        parse_reference(text)
    except InvalidReference:
        return False
    return True


def _image_functions() -> list[Any]:
    def member(name: str, overload: str, result: Any, impl: Callable[[Mapping[str, str]], Any]) -> Any:
        return cel.FunctionDecl(name, [cel.Overload(overload, result, [_IMAGE], is_member=True, impl=impl)])

    return [
        cel.FunctionDecl("image", [cel.Overload("string_to_image_deprecated", _IMAGE, [T.STRING], impl=image_value)]),
        cel.FunctionDecl("parseImageReference", [cel.Overload("string_to_image", _IMAGE, [T.STRING], impl=image_value)]),
        cel.FunctionDecl("isImage", [cel.Overload("is_image_string", T.BOOL, [T.STRING], impl=_is_image)]),
        member("containsDigest", "image_contains_digest", T.BOOL, lambda image: image["digest"] != ""),
        member("registry", "image_registry", T.STRING, lambda image: image["registry"]),
        member("repository", "image_repository", T.STRING, lambda image: image["repository"]),
        member("identifier", "image_identifier", T.STRING, lambda image: image["identifier"]),
        member("tag", "image_tag", T.STRING, lambda image: image["tag"]),
        member("digest", "image_digest", T.STRING, lambda image: image["digest"]),
    ]


# --- kyverno pkg/cel/libs/imageverify ------------------------------------------------------------

def _verify_functions() -> list[Any]:
    return [
        cel.FunctionDecl("verifyImageSignatures", [cel.Overload(
            "verify_image_signature_string_stringarray", T.INT, [T.STRING, T.List(T.DYN)],
            impl=lambda image, attestors: _verification().verify_image_signatures(image, list(attestors)))]),
        cel.FunctionDecl("verifyAttestationSignatures", [cel.Overload(
            "verify_image_attestations_string_string_stringarray", T.INT, [T.STRING, T.STRING, T.List(T.DYN)],
            impl=lambda image, attestation, attestors: _verification().verify_attestation_signatures(
                image, attestation, list(attestors)))]),
        cel.FunctionDecl("extractPayload", [cel.Overload(
            "payload_string_string", T.DYN, [T.STRING, T.STRING],
            impl=lambda image, attestation: _verification().extract_payload(image, attestation))]),
    ]


def _extensions() -> list[Any]:
    # Kyverno's DefaultEnvOptions: optional types, bindings, encoders, math, strings (among others)
    return [ext_optional.ExtOptional(), ext_bindings.ExtBindings(), ext_encoders.ExtEncoders(), ext_math.ExtMath(),
            ext_strings.ExtStrings()]


# The type of each variable as its own expression gives it (Kyverno's VariablesProvider).
VariableTypes = tuple[tuple[str, Any], ...]


def policy_env(variable_types: VariableTypes = ()) -> Any:
    """The environment of validations, variables and matchConditions (a new one costs ~0.05 ms)."""
    variables: dict[str, Any] = {
        "object": T.DYN, "oldObject": T.DYN, "request": T.DYN, "namespaceObject": T.DYN,
        "images": T.Map(T.STRING, T.List(T.STRING)),
        "attestors": T.Map(T.STRING, T.DYN),
        "attestations": T.Map(T.STRING, T.STRING),
    }
    variables.update((f"variables.{name}", kind) for name, kind in variable_types)
    return cel.NewEnv(variables=variables, extensions=_extensions(), functions=_image_functions() + _verify_functions())


@lru_cache(maxsize=1)
def match_env() -> Any:
    """The environment of matchImageReferences[].expression: `ref` and the image library."""
    return cel.NewEnv(variables={"ref": T.STRING}, extensions=_extensions(), functions=_image_functions())


# --- compiling -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class CelProblem:
    """Why an expression does not compile: CEL's message, at a 1-based line and column of the text."""

    message: str
    line: int
    column: int


@dataclass(frozen=True)
class Compiled:
    text: str
    program: Any  # None when the expression needs a library pullguard does not have (`unavailable`)
    output: Any  # cel.Type
    unavailable: tuple[str, ...] = ()

    def evaluate(self, data: Mapping[str, Any]) -> Any:
        """The value as plain Python data; CelRuntimeError when the expression fails."""
        if self.program is None:
            raise CelRuntimeError(f"not verified by pullguard: Kyverno's {', '.join(self.unavailable)} "
                                  f"librar{'ies' if len(self.unavailable) > 1 else 'y'} (cluster and network lookups)")
        try:
            value = self.program.eval(data=dict(data))
        except Exception as error:  # the library raises for what its evaluator cannot start
            raise CelRuntimeError(_strip_status(str(error))) from None
        if value.type() == T.ERROR:
            raise CelRuntimeError(_strip_status(str(value)))
        return value.plain_value()


_LOCATED = re.compile(r"ERROR: <input>:(\d+):(\d+): ")
_UNDECLARED = re.compile(r"ERROR: <input>:\d+:\d+: undeclared reference to '([^']*)'")
# Kyverno's libraries that reach the cluster or the network (kyverno/sdk extensions/cel/libs):
# the variable each one declares, and the member functions called on it.
LIBRARIES = {"resource": "resource", "globalContext": "globalContext", "http": "http", "image": "imagedata"}
_LIBRARY_MEMBERS = frozenset({"get", "list", "post", "put", "delete", "apply", "update", "Get", "Post", "Client",
                              "GetMetadata"})
_TYPE_NAMES = {"BOOL": "bool", "STRING": "string"}


def _strip_status(text: str) -> str:
    """`INVALID_ARGUMENT: x [INVALID_ARGUMENT]` -> `x` (absl status framing, not CEL's words)."""
    text = re.sub(r"^[A-Z_]+: ", "", text.strip())
    return re.sub(r"\s*\[[A-Z_]+\]$", "", text)


def _problem(text: str) -> CelProblem:
    """The first error of a CEL compile failure, without the source snippet lines."""
    body = _strip_status(text)
    found = _LOCATED.search(body)
    if found is None:
        return CelProblem(body.splitlines()[0] if body else "invalid expression", 1, 1)
    message_lines: list[str] = []
    for line in body[found.start():].splitlines():
        if line.startswith(" |") or (message_lines and _LOCATED.match(line)):
            break
        message_lines.append(line)
    return CelProblem(" ".join(message_lines), int(found.group(1)), int(found.group(2)))


def _libraries_only(text: str) -> tuple[str, ...]:
    """The Kyverno libraries named, when every compile error is an undeclared reference to one of
    them or to a function called on one (no other error); () otherwise."""
    errors = len(_LOCATED.findall(text))
    names = _UNDECLARED.findall(text)
    if not names or len(names) != errors or not all(n in LIBRARIES or n in _LIBRARY_MEMBERS for n in names):
        return ()
    return tuple(dict.fromkeys(LIBRARIES[n] for n in names if n in LIBRARIES))


def compile_expression(env: Any, text: str, expected: Expected) -> Compiled | CelProblem:
    """Compile and type-check as Kyverno does, including its output-type check."""
    try:
        compiled = env.compile(text)
    except Exception as error:  # RuntimeError with absl status text
        libraries = _libraries_only(str(error))
        if libraries:
            return Compiled(text, None, T.DYN, libraries)
        return _problem(str(error))
    output = compiled.return_type()
    problem = _output_problem(expected, output)
    if problem is not None:  # Kyverno's words (cel-go's type names), at the expression
        return CelProblem(problem, 1, 1)
    return Compiled(text, compiled, output)


def _output_problem(expected: Expected, output: Any) -> str | None:
    if expected in ("bool", "string"):
        return None if output == (T.BOOL if expected == "bool" else T.STRING) else f"output is expected to be of type {expected}"
    if expected == "audit":  # CompileAuditAnnotation
        return None if output in (T.STRING, T.NULL) else "output is expected to be either of type string or null_type"
    if expected == "images":  # CompileImageExtractors
        return (None if output in (T.List(T.STRING), T.DYN, T.List(T.DYN))
                else "output is expected to be of type list(string)")
    return None
