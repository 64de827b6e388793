// Where a JSON text stops being JSON, told without quoting it: a config file holds secrets, and
// V8's JSON.parse messages quote the text around the error.

/** Thrown inside jsonErrorOffset where the text stops being JSON. */
class JsonStop {
  constructor(readonly at: number) {}
}

const JSON_NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/**
 * The offset of the first character of `text` that cannot continue valid JSON (text.length: it
 * ends too soon), or undefined if none is found. For error messages that must not quote the text.
 */
function jsonErrorOffset(text: string): number | undefined {
  let i = 0;
  const stop = (): never => {
    throw new JsonStop(i);
  };
  const space = (): void => {
    while (i < text.length && " \t\n\r".includes(text[i]!)) i++;
  };
  const expect = (ch: string): void => {
    if (text[i] !== ch) stop();
    i++;
  };
  const string = (): void => {
    expect('"');
    for (;;) {
      const c = text[i];
      if (c === undefined || c < " ") stop();
      i++;
      if (c === '"') return;
      if (c !== "\\") continue;
      if (text[i] === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) i += 5;
      else if (text[i] !== undefined && '"\\/bfnrt'.includes(text[i]!)) i++;
      else stop();
    }
  };
  const list = (close: string, item: () => void): void => {
    i++;
    space();
    if (text[i] === close) {
      i++;
      return;
    }
    for (;;) {
      item();
      space();
      if (text[i] !== ",") return expect(close);
      i++;
    }
  };
  const value = (): void => {
    space();
    const c = text[i];
    if (c === "{") {
      list("}", () => {
        space();
        string();
        space();
        expect(":");
        value();
      });
    } else if (c === "[") list("]", value);
    else if (c === '"') string();
    else if (c === "t" || c === "f" || c === "n") for (const ch of { t: "true", f: "false", n: "null" }[c]) expect(ch);
    else {
      JSON_NUMBER.lastIndex = i;
      if (!JSON_NUMBER.test(text)) stop();
      i = JSON_NUMBER.lastIndex;
    }
  };
  try {
    value();
    space();
    if (i < text.length) stop();
    return undefined;
  } catch (err) {
    return err instanceof JsonStop ? err.at : undefined; // a RangeError: nested too deep to scan
  }
}

/** Where a JSON text is broken, as "line L, column C", never quoting it (a config file holds secrets). */
export function jsonErrorAt(text: string, err: unknown): string {
  // V8 names the offset for some errors only ("... in JSON at position N"); others quote the text.
  const named = /at position (\d+)/.exec(err instanceof Error ? err.message : "");
  const at = named ? Number(named[1]) : jsonErrorOffset(text);
  if (at === undefined) return "a syntax error";
  const before = text.slice(0, at);
  const where = `line ${before.split("\n").length}, column ${at - before.lastIndexOf("\n")}`;
  return at >= text.length ? `it ends too soon, at ${where}` : `a syntax error at ${where}`;
}
