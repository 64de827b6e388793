// Errors of the ID mapping, and the one place where the mapping scripts' negative replies
// (scripts/lua: mapAllocate, mapLookup, mapIdentity) become them.
import { BitsyncError } from "../errors.js";
import type { RedisLike } from "../redis/cluster.js";
import { MappingScriptCode } from "../redis/scripts.js";
import type { MapKeys } from "./keys.js";

/** BITSYNC_MAP_GROUPS differs from the group count the mapping in Redis was made with. */
export class GroupCountError extends BitsyncError {}

/** The typed error of a mapping script's negative reply (reads the mapping's group count to say it). */
export async function mappingScriptError(
  code: number,
  mapping: { redis: RedisLike; keys: MapKeys; groups: number },
  group: number,
): Promise<BitsyncError> {
  switch (code) {
    case MappingScriptCode.GROUP_COUNT: {
      const made = await mapping.redis.hget(mapping.keys.meta(group), "groups");
      return new GroupCountError(
        `the ID mapping in Redis was made with ${made} allocator groups, and BITSYNC_MAP_GROUPS is ${mapping.groups}: ` +
          `set it back to ${made} (the group count can never change: uids would get new bits)`,
      );
    }
    case MappingScriptCode.WRONG_GROUP:
      return new BitsyncError(`mapping group ${group}: a uid hashes to another group (client and script disagree)`);
    case MappingScriptCode.BAD_HASH:
      return new BitsyncError(
        `mapping group ${group}: the script hashed a uid differently from this client (mapping/hash.ts and ` +
          `scripts/lua/lib/idhash.lua disagree); nothing was written. Run the same bitsync version everywhere`,
      );
    default:
      return new BitsyncError(`mapping group ${group}: unexpected script reply ${code}`);
  }
}
