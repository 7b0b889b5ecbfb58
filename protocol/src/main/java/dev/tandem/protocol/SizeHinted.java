package dev.tandem.protocol;

/**
 * A message that knows roughly how large it serializes, implemented by messages carrying bulk bytes (e.g.
 * checkpoint chunks). The serializer starts its output buffer at this size instead of its small default: a
 * 256 KiB payload would otherwise grow the buffer by doubling from a few KiB, allocating about four times the
 * payload for every message. A low hint costs only that growth again; a high one a larger buffer (the
 * serialized bytes are copied out of it either way).
 */
public interface SizeHinted {

    /** Expected serialized size in bytes, envelope included. */
    int sizeHintBytes();
}
