/**
 * @file A strict RFC 8259 JSON parser for checkpoint headers, index files and config.json.
 *
 * Why not JSON.parse: it silently keeps the last of two duplicate keys (a tensor listed twice would
 * read the second entry with no warning) and turns integers past 2^53 into the nearest double (a
 * data offset of 2^53 + 1 would silently point somewhere else). This parser rejects duplicate keys
 * and, in `exactIntegers` mode, returns integer literals as bigint so callers can bound them
 * exactly. Nesting is capped so a hostile header cannot overflow the stack.
 */

export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | { [key: string]: JsonValue };

export class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(message);
    this.name = 'JsonSyntaxError';
  }
}

export interface StrictJsonOptions {
  /** Return integer literals (no fraction, no exponent) as bigint; other numbers stay number. */
  exactIntegers?: boolean;
  /** Deepest array/object nesting accepted (default 64). */
  maxDepth?: number;
}

/** Parses `text` as one JSON value; throws JsonSyntaxError (with a character position) otherwise. */
export function parseStrictJson(text: string, opts: StrictJsonOptions = {}): JsonValue {
  const exact = opts.exactIntegers ?? false;
  const maxDepth = opts.maxDepth ?? 64;
  let i = 0;
  const n = text.length;

  const fail = (what: string, at = i): never => {
    throw new JsonSyntaxError(`${what} at character ${at}`, at);
  };
  const skipWs = (): void => {
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) {
        return;
      }
    }
  };
  const describe = (at: number): string =>
    at >= n ? 'unexpected end of JSON' : `unexpected ${JSON.stringify(text[at])}`;

  // Runs of ordinary characters are taken in one regex step; only escapes go char by char.
  // eslint-disable-next-line no-control-regex -- JSON forbids raw control characters in strings
  const PLAIN = /[^"\\\u0000-\u001f]*/y;
  const parseString = (): string => {
    // text[i] === '"'
    const start = i++;
    let out = '';
    while (true) {
      PLAIN.lastIndex = i;
      PLAIN.test(text);
      const runEnd = PLAIN.lastIndex;
      out += text.slice(i, runEnd);
      i = runEnd;
      if (i >= n) {
        fail('unterminated string', start);
      }
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return out;
      }
      if (c < 0x20) {
        fail('control character in string');
      }
      // c is a backslash
      const e = text[i + 1];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out += e;
          i += 2;
          break;
        case 'b':
          out += '\b';
          i += 2;
          break;
        case 'f':
          out += '\f';
          i += 2;
          break;
        case 'n':
          out += '\n';
          i += 2;
          break;
        case 'r':
          out += '\r';
          i += 2;
          break;
        case 't':
          out += '\t';
          i += 2;
          break;
        case 'u': {
          const hex = text.slice(i + 2, i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
            fail('bad \\u escape');
          }
          out += String.fromCharCode(parseInt(hex, 16));
          i += 6;
          break;
        }
        default:
          fail('bad escape in string');
      }
    }
  };

  const NUM = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
  const parseNumber = (): number | bigint => {
    NUM.lastIndex = i;
    const m = NUM.exec(text);
    if (!m) {
      return fail(describe(i));
    }
    const raw = m[0];
    i += raw.length;
    if (exact && m[1] === undefined && m[2] === undefined) {
      return BigInt(raw);
    }
    return Number(raw);
  };

  const parseValue = (depth: number): JsonValue => {
    skipWs();
    if (i >= n) {
      fail('unexpected end of JSON');
    }
    const c = text[i];
    if (c === '{') {
      if (depth >= maxDepth) {
        fail(`nested deeper than ${maxDepth} levels`);
      }
      i++;
      const obj: { [key: string]: JsonValue } = {};
      const seen = new Set<string>();
      skipWs();
      if (text[i] === '}') {
        i++;
        return obj;
      }
      while (true) {
        skipWs();
        if (text[i] !== '"') {
          fail(`expected a string key, ${describe(i)}`);
        }
        const keyAt = i;
        const key = parseString();
        if (seen.has(key)) {
          fail(`duplicate key ${JSON.stringify(key)}`, keyAt);
        }
        seen.add(key);
        skipWs();
        if (text[i] !== ':') {
          fail(`expected ':', ${describe(i)}`);
        }
        i++;
        const value = parseValue(depth + 1);
        if (key === '__proto__') {
          // A plain assignment would set the prototype instead of creating the key.
          Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
        } else {
          obj[key] = value;
        }
        skipWs();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return obj;
        }
        fail(`expected ',' or '}', ${describe(i)}`);
      }
    }
    if (c === '[') {
      if (depth >= maxDepth) {
        fail(`nested deeper than ${maxDepth} levels`);
      }
      i++;
      const arr: JsonValue[] = [];
      skipWs();
      if (text[i] === ']') {
        i++;
        return arr;
      }
      while (true) {
        arr.push(parseValue(depth + 1));
        skipWs();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return arr;
        }
        fail(`expected ',' or ']', ${describe(i)}`);
      }
    }
    if (c === '"') {
      return parseString();
    }
    if (text.startsWith('true', i)) {
      i += 4;
      return true;
    }
    if (text.startsWith('false', i)) {
      i += 5;
      return false;
    }
    if (text.startsWith('null', i)) {
      i += 4;
      return null;
    }
    return parseNumber();
  };

  const value = parseValue(0);
  skipWs();
  if (i < n) {
    fail(`unexpected ${JSON.stringify(text[i])} after the JSON value`);
  }
  return value;
}

export function isJsonObject(v: JsonValue | undefined): v is { [key: string]: JsonValue } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
