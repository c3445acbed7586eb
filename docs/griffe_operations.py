"""A Griffe extension for the API reference: service methods made with ``sync_op(...)`` /
``async_op(...)`` are class attributes holding descriptors, which static analysis would show as
undocumented attributes. This shows each as the method users call: the plan's docstring and the
public signature the descriptor carries (the same one ``help()`` and ``inspect.signature`` give).
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import griffe

BINDERS = ("sync_op(", "async_op(", "sync_op_then(", "async_op_then(")


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
            inspect.cleandoc(operation.__doc__), lineno=attribute.lineno, parent=function
        )
    if is_async:
        function.labels.add("async")
    return function


class PublicOperations(griffe.Extension):
    """Replace operation attributes of a class by functions with the runtime metadata."""

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
