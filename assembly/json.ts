// The JSON text of batch answers, written straight into linear memory.

/** Writes n answers (bytes 0/1) as JSON booleans separated by commas; returns the bytes written. */
export function boolsJson(src: usize, n: u32, dst: usize): u32 {
  let p = dst;
  for (let i: u32 = 0; i < n; i++) {
    if (i > 0) store<u8>(p++, 0x2c);
    if (load<u8>(src + i) != 0) {
      store<u32>(p, 0x65757274); // true
      p += 4;
    } else {
      store<u32>(p, 0x736c6166); // fals
      store<u8>(p + 4, 0x65); // e
      p += 5;
    }
  }
  return <u32>(p - dst);
}
