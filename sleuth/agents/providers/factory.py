"""Model specs → providers. `offline` is no provider at all: the statistical investigator runs alone.

Accepted specs, per role or for all roles:
    offline | openai:<model> | anthropic:<model>
A combined spec (one string that travels through the workflow as `InvestigationRequest.model`)
sets a default and per-role overrides:
    "anthropic:claude-sonnet-4-5,summariser=anthropic:claude-haiku-4-5"
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, get_args

from sleuth.agents.providers.base import ModelProvider, Role

ROLES: tuple[Role, ...] = get_args(Role)
ACCEPTED = "'offline', 'openai:<model>' or 'anthropic:<model>'"


def parse_spec(spec: str) -> tuple[str, str | None]:
    """`(kind, model)` for one spec; a ValueError naming the accepted forms for anything else."""
    text = (spec or "").strip()
    if text.lower() == "offline":
        return "offline", None
    kind, sep, model = text.partition(":")
    kind = kind.strip().lower()
    model = model.strip()
    if sep and kind in ("openai", "anthropic") and model and not any(c.isspace() for c in model):
        return kind, model
    raise ValueError(f"unknown model spec {spec!r}: expected {ACCEPTED} (e.g. 'openai:gpt-4o-mini')")


def provider_for(spec: str, **options: Any) -> ModelProvider | None:
    """One provider for one spec. `options` (api_key, base_url, timeout_seconds, retry, prices) go to it."""
    kind, model = parse_spec(spec)
    if kind == "offline" or model is None:
        return None
    if kind == "openai":
        from sleuth.agents.providers.openai_provider import OpenAIProvider

        return OpenAIProvider(model, **options)
    from sleuth.agents.providers.anthropic_provider import AnthropicProvider

    return AnthropicProvider(model, **options)


def role_specs(spec: str | Mapping[str, str | None], default: str = "offline") -> dict[Role, str]:
    """Per-role specs from a single spec, a combined spec string, or a mapping role → spec.

    A mapping may carry a `"default"` key; roles it does not name get the default.
    """
    entries: dict[str, str]
    if isinstance(spec, Mapping):
        entries = {str(k).strip().lower(): str(v).strip() for k, v in spec.items() if v}
        # A value may itself be a combined spec (the workflow carries one string for all roles).
        for key, value in list(entries.items()):
            if key in ROLES and ("," in value or "=" in value):
                entries[key] = role_specs(value, default)[key]  # type: ignore[index]
    else:
        entries = {}
        for part in (p.strip() for p in (spec or "").split(",")):
            if not part:
                continue
            role, eq, value = part.partition("=")
            if eq:
                entries[role.strip().lower()] = value.strip()
            elif "default" in entries:
                raise ValueError(f"model spec {spec!r} names more than one default")
            else:
                entries["default"] = part
    unknown = set(entries) - {"default", *ROLES}
    if unknown:
        raise ValueError(
            f"unknown model role(s) {sorted(unknown)}: roles are {list(ROLES)}; "
            f"write 'role=spec' with spec {ACCEPTED}"
        )
    base = str(entries.get("default") or default)
    out: dict[Role, str] = {role: str(entries.get(role) or base) for role in ROLES}
    for value in out.values():
        parse_spec(value)  # fail at configuration time, not at the first model call
    return out


def providers_for(
    spec: str | Mapping[str, str | None], default: str = "offline", **options: Any
) -> dict[Role, ModelProvider | None]:
    """One provider per role; roles sharing a spec share one provider (one HTTP connection pool)."""
    specs = role_specs(spec, default)
    built: dict[str, ModelProvider | None] = {}
    for s in dict.fromkeys(specs.values()):
        built[s] = provider_for(s, **options)
    return {role: built[s] for role, s in specs.items()}


def providers_from_settings(settings: Any, **options: Any) -> dict[Role, ModelProvider | None]:
    """From `sleuth.config.Settings`: SLEUTH_MODEL with SLEUTH_MODEL_PLANNER/_SUMMARISER/_CONCLUDER."""
    return providers_for({role: settings.model_for(role) for role in ROLES}, **options)
