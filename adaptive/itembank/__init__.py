"""Item banks: items with IRT parameters, multilingual content and server-side keys, plus bank metadata.

- :mod:`.model`: ``Item``, ``ItemContent``, ``ItemBank`` (lookups, IRT views, server-side scoring);
- :mod:`.validation`: ``ItemBankValidationError`` naming item and field (IRT rules from ``adaptive.irt``);
- :mod:`.io`: canonical JSON (exact round trip) and CSV item parameters (``DataFileError`` names file,
  line and column);
- :mod:`.public`: what a test taker sees of an item (``public_item``: never the key).
"""

from adaptive.itembank.io import (
    CSV_FIXED_COLUMNS,
    FORMAT,
    FORMAT_VERSION,
    PARAMETERIZATION,
    bank_from_dict,
    bank_to_dict,
    export_parameters_csv,
    item_from_dict,
    load_json,
    save_json,
    with_parameters_from_csv,
)
from adaptive.itembank.model import (
    DEFAULT_CUT_SCORES,
    N_CUTS,
    N_LEVELS,
    STATUSES,
    Item,
    ItemBank,
    ItemContent,
    parameter_arrays,
)
from adaptive.itembank.public import public_item
from adaptive.itembank.validation import check_item, check_item_parameters, validate_bank

__all__ = [
    "CSV_FIXED_COLUMNS",
    "DEFAULT_CUT_SCORES",
    "FORMAT",
    "FORMAT_VERSION",
    "N_CUTS",
    "N_LEVELS",
    "PARAMETERIZATION",
    "STATUSES",
    "Item",
    "ItemBank",
    "ItemContent",
    "bank_from_dict",
    "bank_to_dict",
    "check_item",
    "check_item_parameters",
    "export_parameters_csv",
    "item_from_dict",
    "load_json",
    "parameter_arrays",
    "public_item",
    "save_json",
    "validate_bank",
    "with_parameters_from_csv",
]
