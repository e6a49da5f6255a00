// The "floating-point" codes of IGMPv3 (RFC 3376 §4.1.1, §4.1.7) and MLDv2 (RFC 3810
// §5.1.3, §5.1.9): below 2^(mantBits+3) a code is its own value; above, it is
// 1 | exp (3 bits) | mant (mantBits) and stands for (mant | 2^mantBits) << (exp + 3).

export function decodeFloatCode(code: number, mantBits: number): number {
  if (code < 2 ** (mantBits + 3)) return code;
  const mant = code % 2 ** mantBits;
  const exp = Math.floor(code / 2 ** mantBits) & 7;
  return (mant + 2 ** mantBits) * 2 ** (exp + 3);
}

/** The code whose value is the largest not above `value`, clamped to the encodable range. */
export function encodeFloatCode(value: number, mantBits: number): number {
  const linearLimit = 2 ** (mantBits + 3);
  if (value < linearLimit) return Math.max(0, Math.floor(value));
  const hidden = 2 ** mantBits;
  for (let exp = 7; exp >= 0; exp--) {
    const mant = Math.floor(value / 2 ** (exp + 3)) - hidden;
    if (mant >= 0) return linearLimit + exp * hidden + Math.min(mant, hidden - 1);
  }
  return linearLimit - 1;
}
