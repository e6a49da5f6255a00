// Parse errors are values, never exceptions: input from the wire is untrusted,
// and a malformed packet is an ordinary event, not a bug.

export const ParseErrorKind = {
  /** Fewer bytes than the header (or a length field) requires. */
  Truncated: 'Truncated',
  /** A field holds a value the protocol forbids (bad version, length that lies, ...). */
  Malformed: 'Malformed',
  /** The checksum does not verify. */
  Checksum: 'Checksum',
  /** An option or extension does not fit in the space its container declares. */
  OptionOverflow: 'OptionOverflow',
  /** A chain of headers loops or exceeds the limit we are willing to walk. */
  HeaderChain: 'HeaderChain',
  /** Valid, but not something this codec handles (e.g. an unknown type). */
  Unsupported: 'Unsupported',
} as const;
export type ParseErrorKind = (typeof ParseErrorKind)[keyof typeof ParseErrorKind];

export class ParseError {
  constructor(
    readonly kind: ParseErrorKind,
    /** Which layer produced it, e.g. 'ipv4', 'tcp'. */
    readonly layer: string,
    readonly detail: string,
  ) {}
  toString(): string {
    return `${this.layer}: ${this.kind}: ${this.detail}`;
  }
}

export function isParseError(x: unknown): x is ParseError {
  return x instanceof ParseError;
}

export function truncated(layer: string, detail: string): ParseError {
  return new ParseError(ParseErrorKind.Truncated, layer, detail);
}
export function malformed(layer: string, detail: string): ParseError {
  return new ParseError(ParseErrorKind.Malformed, layer, detail);
}
export function badChecksum(layer: string, detail = 'checksum does not verify'): ParseError {
  return new ParseError(ParseErrorKind.Checksum, layer, detail);
}
