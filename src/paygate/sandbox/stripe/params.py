"""Reading decoded form parameters the way Stripe validates them.

Every value arrives as a string (or a nested hash of strings). :class:`Params` coerces
them with Stripe's error messages and refuses parameters an endpoint does not know
(``parameter_unknown``) — and those Stripe knows but this sandbox does not simulate, so a
client never believes a feature works when it was silently ignored.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from .errors import StripeError, empty_param, invalid_param, missing_param, unknown_param
from .wire import as_list

__all__ = ["Params", "not_simulated"]

_MAX_METADATA_KEYS = 50
_MAX_METADATA_KEY = 40
_MAX_METADATA_VALUE = 500


def not_simulated(name: str) -> StripeError:
    return invalid_param(
        f"The parameter '{name}' is valid on Stripe but is not simulated by the paygate "
        "Stripe sandbox, so this request was refused rather than silently ignored.",
        name,
    )


class Params:
    """Decoded parameters of one request, with Stripe-style accessors."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = dict(values)

    def __contains__(self, name: str) -> bool:
        return name in self.values

    def check(
        self,
        simulated: Collection[str],
        *,
        stripe_only: Collection[str] = (),
        ignored: Collection[str] = (),
    ) -> None:
        """``simulated`` are honoured; ``ignored`` are accepted with no effect (documented);
        ``stripe_only`` exist on Stripe but are refused here; anything else is unknown."""
        for name in self.values:
            if name in simulated or name in ignored or name == "expand":
                continue
            if name in stripe_only:
                raise not_simulated(name)
            raise unknown_param(name)

    def check_nested(self, name: str, allowed: Collection[str]) -> None:
        value = self.values.get(name)
        if isinstance(value, dict):
            for key in value:
                if key not in allowed:
                    raise unknown_param(f"{name}[{key}]")

    def raw(self, name: str) -> Any:
        return self.values.get(name)

    def string(self, name: str, *, required: bool = False, blank: bool = False) -> str | None:
        value = self.values.get(name)
        if value is None:
            if required:
                raise missing_param(name)
            return None
        if not isinstance(value, str):
            raise invalid_param(f"Invalid string: {_describe(value)}", name)
        if value == "" and not blank:
            raise empty_param(name)
        return value

    def integer(self, name: str, *, required: bool = False, minimum: int | None = None) -> int | None:
        value = self.string(name, required=required)
        if value is None:
            return None
        try:
            number = int(value, 10)
        except ValueError:
            raise invalid_param(f"Invalid integer: {value}", name, "parameter_invalid_integer") from None
        if minimum is not None and number < minimum:
            raise invalid_param(
                f"This value must be greater than or equal to {minimum}.",
                name,
                "parameter_invalid_integer",
            )
        return number

    def boolean(self, name: str) -> bool | None:
        value = self.string(name)
        if value is None:
            return None
        if value not in ("true", "false"):
            raise invalid_param(f"Invalid boolean: {value}", name)
        return value == "true"

    def choice(self, name: str, options: Collection[str]) -> str | None:
        value = self.string(name)
        if value is not None and value not in options:
            listed = list(options)
            shown = ", ".join(listed[:-1]) + f", or {listed[-1]}" if len(listed) > 1 else listed[0]
            raise invalid_param(f"Invalid {name}: must be one of {shown}", name)
        return value

    def string_list(self, name: str) -> list[str] | None:
        value = self.values.get(name)
        if value is None:
            return None
        items = as_list(value)
        if items is None or not all(isinstance(v, str) for v in items):
            raise invalid_param(f"Invalid array: {name}", name)
        return list(items)

    def hash(self, name: str) -> dict[str, Any] | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, dict):
            raise invalid_param(f"Invalid object: {name}", name)
        return value

    def metadata(self, current: Mapping[str, str] | None = None) -> dict[str, str] | None:
        """Merge ``metadata`` into ``current`` like Stripe: ``""`` unsets all, an empty value
        unsets one key. None when the request does not mention metadata."""
        if "metadata" not in self.values:
            return None
        value = self.values["metadata"]
        if value == "":
            return {}
        if not isinstance(value, dict):
            raise invalid_param("Invalid object", "metadata")
        merged = dict(current or {})
        for key, item in value.items():
            if not isinstance(item, str):
                raise invalid_param(f"Invalid metadata[{key}]: metadata values must be strings", "metadata")
            if len(key) > _MAX_METADATA_KEY:
                raise invalid_param(
                    f"Metadata keys can have up to {_MAX_METADATA_KEY} characters, but you "
                    f"passed in a key that is {len(key)} characters. Invalid key: {key}",
                    f"metadata[{key}]",
                )
            if len(item) > _MAX_METADATA_VALUE:
                raise invalid_param(
                    f"Metadata values can have up to {_MAX_METADATA_VALUE} characters, but you "
                    f"passed in a value that is {len(item)} characters. Invalid value: {item}",
                    f"metadata[{key}]",
                )
            if item == "":
                merged.pop(key, None)
            else:
                merged[key] = item
        if len(merged) > _MAX_METADATA_KEYS:
            raise invalid_param(
                f"You can have up to {_MAX_METADATA_KEYS} metadata keys, but you specified {len(merged)}.",
                "metadata",
            )
        return merged

    def expand(self) -> list[str]:
        value = self.values.get("expand")
        if value is None:
            return []
        items = as_list(value) if not isinstance(value, str) else [value]
        if items is None or not all(isinstance(v, str) for v in items):
            raise invalid_param("Invalid array", "expand")
        return list(items)


def _describe(value: Any) -> str:
    return "object" if isinstance(value, dict) else "array"
