"""Griffe extensions for the API reference.

Service methods made with ``sync_op(...)`` / ``async_op(...)`` are class attributes holding
descriptors, which static analysis would show as undocumented attributes. ``PublicOperations``
shows each as the method users call: the plan's docstring and the public signature the
descriptor carries (the same one ``help()`` and ``inspect.signature`` give). It also renders the
docstrings' Sphinx roles (``:class:`~dafclient.x.Y```) as code spans (``Y``), since the
docstrings are written for ``help()`` and IDEs first.
"""

from __future__ import annotations

import importlib
import inspect
import re
from typing import Any

import griffe

BINDERS = ("sync_op(", "async_op(", "sync_op_then(", "async_op_then(")
SPHINX_ROLE = re.compile(r":(?:class|meth|func|attr|mod|data|exc|obj):`(~?)([^`]+)`")


def plain_roles(text: str) -> str:
    """``:meth:`get_leaves``` → ``get_leaves``; ``~a.b.C`` keeps only ``C``."""

    def code(match: re.Match[str]) -> str:
        target = match.group(2)
        return f"`{target.rsplit('.', 1)[-1] if match.group(1) else target}`"

    return SPHINX_ROLE.sub(code, text)


def _annotation(value: Any) -> str | None:
    if value is inspect.Parameter.empty:
        return None
    return value if isinstance(value, str) else inspect.formatannotation(value)


def _function(
    name: str, operation: Any, attribute: griffe.Attribute, is_async: bool
) -> griffe.Function:
    signature = inspect.signature(operation)
    parameters = griffe.Parameters(
        *(
            griffe.Parameter(
                parameter.name,
                annotation=_annotation(parameter.annotation),
                kind=griffe.ParameterKind(parameter.kind.description),
                default=None
                if parameter.default is inspect.Parameter.empty
                else repr(parameter.default),
            )
            for parameter in signature.parameters.values()
        )
    )
    function = griffe.Function(
        name,
        lineno=attribute.lineno,
        endlineno=attribute.endlineno,
        parameters=parameters,
        returns=_annotation(signature.return_annotation),
    )
    if operation.__doc__:
        function.docstring = griffe.Docstring(
            plain_roles(inspect.cleandoc(operation.__doc__)),
            lineno=attribute.lineno,
            parent=function,
        )
    if is_async:
        function.labels.add("async")
    return function


class PublicOperations(griffe.Extension):
    """Replace operation attributes of a class by functions with the runtime metadata."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = plain_roles(obj.docstring.value)

    def on_class_members(self, *, cls: griffe.Class, **kwargs: Any) -> None:
        bound = {
            name: member
            for name, member in cls.members.items()
            if isinstance(member, griffe.Attribute)
            and member.value is not None
            and str(member.value).startswith(BINDERS)
        }
        if not bound:
            return
        runtime = getattr(importlib.import_module(cls.module.path), cls.name)
        for name, attribute in bound.items():
            operation = vars(runtime)[name]
            is_async = str(attribute.value).startswith("async_")
            cls.set_member(name, _function(name, operation, attribute, is_async))
