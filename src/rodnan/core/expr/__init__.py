"""The safe expression language of criteria, edit checks, derived items and endpoint events.

See ``docs/expression-language.md``. Text is parsed by a lark grammar into our own node types
(:mod:`.parse`), then type-checked and compiled against the study's items (:mod:`.evaluate`).
Nothing is ever passed to ``eval``.
"""

from rodnan.core.expr.evaluate import CompiledExpression, ItemSpec, compile_expression
from rodnan.core.expr.parse import parse_expression

__all__ = ["CompiledExpression", "ItemSpec", "compile_expression", "parse_expression"]
