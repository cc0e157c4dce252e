"""The study definition: protocol models and the loader."""

from rodnan.core.protocol.load import BUNDLED, bundled_protocol_path, load_protocol, load_protocol_text
from rodnan.core.protocol.model import CriterionDef, FormDef, ItemDef, Study, VisitDef

__all__ = [
    "BUNDLED",
    "CriterionDef",
    "FormDef",
    "ItemDef",
    "Study",
    "VisitDef",
    "bundled_protocol_path",
    "load_protocol",
    "load_protocol_text",
]
