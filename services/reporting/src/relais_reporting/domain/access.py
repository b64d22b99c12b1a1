"""Who may read which aggregates (docs/decisions/0005-small-cell-suppression.md, Access).

Nobody reads rows: every route returns suppressed aggregates only. A coordinator reads its
own PRE (the token's ``pre``). An analyst reads its token's PRE, and the regions its
organisation (the token's ``org``) is mapped to in the service configuration, each PRE of
such a region included. The mapping lives with the deployment, not in the token, so a
funder's identity provider needs no Relais-specific claim and a change of scope needs no
new token.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def readable_tenants(
    roles: frozenset[str],
    tenant: str,
    org: str,
    regions: Mapping[str, Sequence[str]],
    analyst_regions: Mapping[str, Sequence[str]],
) -> set[str]:
    allowed = {tenant} if roles & {"analyst", "coordinator"} else set()
    if "analyst" in roles:
        for region in readable_regions(roles, org, regions, analyst_regions):
            allowed.update(regions[region])
    return allowed


def readable_regions(
    roles: frozenset[str],
    org: str,
    regions: Mapping[str, Sequence[str]],
    analyst_regions: Mapping[str, Sequence[str]],
) -> list[str]:
    if "analyst" not in roles:
        return []
    return [r for r in analyst_regions.get(org, ()) if r in regions]
