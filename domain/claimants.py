"""Claimant namespaces, and what a developer or a log may see of a claimant.

A claimant is `<namespace>:<subject>`, compared byte for byte (domain/fields.py), and each
namespace can be entered through one front only:
- `web:<visitor id>`: a claim-page visitor, the random id of a signed cookie (never taken
  from a request body);
- `anon:<identifier>`: an anonymous `POST /api/distribute` caller's `user_identifier`;
- `api:<developer id>:<user>`: a developer's backend, with its API key, for its own users;
- `telegram:<user id>`, `discord:<user id>`: set by the bots from the platform's own user.
So no value learnt in one namespace can be replayed through another front. The raw subject of
`web:` and `anon:` claimants is a bearer secret (whoever names it holds that claimant's
codes), so developers see them only as a per-campaign pseudonym (a keyed hash from the
server secret) and logs never carry them.
"""

from __future__ import annotations

import hashlib
import hmac

WEB = "web"
ANON = "anon"
API = "api"
TELEGRAM = "telegram"
DISCORD = "discord"
# namespaces whose subject alone proves nothing: shown as pseudonyms, never logged
BEARER = frozenset({WEB, ANON})


def namespace_of(claimant_key: str) -> str:
    return claimant_key.split(":", 1)[0]


def pseudonym(secret_key: str, campaign_id: str, claimant_key: str | None) -> str | None:
    """What a campaign's owner sees of a claimant: `web~<hash>` / `anon~<hash>` for bearer
    namespaces (stable within the campaign, unlinkable across campaigns, and refused as a
    user identifier), the claimant itself otherwise."""
    if claimant_key is None:
        return None
    namespace = namespace_of(claimant_key)
    if namespace not in BEARER:
        return claimant_key
    mac = hmac.new(
        secret_key.encode(),
        f"codedrop/claimant-pseudonym/v1/{campaign_id}/{claimant_key}".encode(),
        hashlib.sha256,
    )
    return f"{namespace}~{mac.hexdigest()[:20]}"


def loggable(claimant_key: str) -> str:
    """A claimant as logs may carry it: the namespace alone for bearer namespaces."""
    namespace = namespace_of(claimant_key)
    return f"{namespace}:…" if namespace in BEARER else claimant_key
