"""The Redis copy of hot profiles, stamped with the profile's version: never replaced by an older one.

A reader that missed reads PostgreSQL and offers its copy; a writer, after its commit and before it
answers, offers the new version (a deletion offers a tombstone). Redis keeps whichever is newer
(a compare-and-set script), so a slow reader cannot put back a copy older than an acknowledged
write, and no reader sees one (docs/decisions/602).
"""

from __future__ import annotations

import redis.asyncio as aioredis

from scis.profiles.models import ProfileRead

CACHE_TTL_SECONDS = 300
TOMBSTONE = "-"

# KEYS[1] the profile's key; ARGV: version, "version|body", ttl. Sets only when no newer copy is held.
OFFER_SCRIPT = """
local held = redis.call('GET', KEYS[1])
if held then
  local version = tonumber(string.match(held, '^(%d+)|'))
  if version and version >= tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', tonumber(ARGV[3]))
return 1
"""


def cache_key(profile_id: int) -> str:
    return f"scis:profile:{profile_id}"


async def offer(cache: aioredis.Redis, profile_id: int, version: int, profile: ProfileRead | None) -> None:
    """Cache this version of the profile (None: deleted) unless a newer one is cached already."""
    body = TOMBSTONE if profile is None else profile.model_dump_json()
    await cache.eval(OFFER_SCRIPT, 1, cache_key(profile_id), version, f"{version}|{body}", CACHE_TTL_SECONDS)


async def cached_json(cache: aioredis.Redis, profile_id: int) -> tuple[bool, str | None]:
    """(hit, the profile's JSON as cached): a hit with None is a cached deletion."""
    held = await cache.get(cache_key(profile_id))
    if held is None:
        return False, None
    _, _, body = (held.decode() if isinstance(held, bytes) else held).partition("|")
    return True, None if body == TOMBSTONE else body


async def cached(cache: aioredis.Redis, profile_id: int) -> tuple[bool, ProfileRead | None]:
    """(hit, profile): a hit with None is a cached deletion."""
    hit, body = await cached_json(cache, profile_id)
    return hit, None if body is None else ProfileRead.model_validate_json(body)
