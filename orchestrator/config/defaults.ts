/**
 * Segment size: each segment covers 2^DEFAULT_SEGMENT_BITS consecutive bit positions.
 * Chosen by `npm run bench:segment-size`; the measurements and the reasoning are in README.md
 * ("Segment size").
 */
export const DEFAULT_SEGMENT_BITS = 20;
