// The settings reference of docs/configuration.md, generated from the settings table (SETTINGS), so
// that the reference cannot drift from the code. `npm run docs:config` rewrites the generated part of
// docs/configuration.md (between the markers below) and formats it with prettier; the hand-written
// intro above the markers is kept. test/config/config.test.ts fails when the file is out of date.
import { readFileSync, realpathSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { SETTINGS } from "./config.js";

export const SETTINGS_BEGIN = "<!-- settings:begin -->";
export const SETTINGS_END = "<!-- settings:end -->";

/** Where `--write` writes by default, relative to the working directory (npm runs scripts at the package root). */
export const CONFIGURATION_DOC = "docs/configuration.md";

/** Text in a table cell: a `|` would end the cell, even inside a code span. */
function cell(text: string): string {
  return text.replace(/\|/g, "\\|");
}

/** A value as a code span; the empty string is shown as "(empty)". */
export function codeCell(value: string): string {
  if (value === "") return "(empty)";
  const fence = value.includes("`") ? "``" : "`";
  const pad = value.includes("`") ? " " : "";
  return cell(`${fence}${pad}${value}${pad}${fence}`);
}

/** The markdown table of every setting: Variable, Default, Meaning (unaligned; prettier aligns it). */
export function renderSettingsReference(): string {
  const rows = SETTINGS.map((s) => [codeCell(s.env), codeCell(s.default), cell(s.help)]);
  // BITSYNC_CONFIG is read before the table (it names the file the other settings may come from).
  rows.push([
    codeCell("BITSYNC_CONFIG"),
    "(none)",
    "Optional JSON file of VARIABLE: value with any of the above; the environment wins",
  ]);
  const lines = [["Variable", "Default", "Meaning"], ["---", "---", "---"], ...rows].map((r) => `| ${r.join(" | ")} |`);
  return lines.join("\n") + "\n";
}

/** The generated part of a document (between the markers, trimmed), or undefined without both markers. */
export function generatedSection(doc: string): string | undefined {
  const begin = doc.indexOf(SETTINGS_BEGIN);
  const end = doc.indexOf(SETTINGS_END);
  if (begin < 0 || end < begin) return undefined;
  return doc.slice(begin + SETTINGS_BEGIN.length, end).trim();
}

/** The document with its generated part replaced by `table`; throws when a marker is missing. */
export function withSettingsReference(doc: string, table: string): string {
  const begin = doc.indexOf(SETTINGS_BEGIN);
  const end = doc.indexOf(SETTINGS_END);
  if (begin < 0 || end < begin) {
    throw new Error(`the markers ${SETTINGS_BEGIN} and ${SETTINGS_END} are missing or out of order`);
  }
  return `${doc.slice(0, begin + SETTINGS_BEGIN.length)}\n\n${table.trim()}\n\n${doc.slice(end)}`;
}

/**
 * A markdown table in a canonical form, so that prettier's alignment does not matter: every row's
 * cells trimmed, and a separator row's cells reduced to `---`. Other lines are trimmed.
 */
export function normalizeTable(markdown: string): string {
  return markdown
    .trim()
    .split("\n")
    .map((line) => {
      const t = line.trim();
      if (!t.startsWith("|")) return t;
      const cells = t
        .slice(1, t.endsWith("|") && !t.endsWith("\\|") ? -1 : undefined)
        .split(/(?<!\\)\|/)
        .map((c) => c.trim())
        .map((c) => (/^:?-+:?$/.test(c) ? "---" : c));
      return `| ${cells.join(" | ")} |`;
    })
    .join("\n");
}

function main(argv: string[]): void {
  const i = argv.indexOf("--write");
  if (i < 0) {
    process.stdout.write(renderSettingsReference());
    return;
  }
  const next = argv[i + 1];
  const path = resolve(next !== undefined && !next.startsWith("-") ? next : CONFIGURATION_DOC);
  const doc = readFileSync(path, "utf8");
  writeFileSync(path, withSettingsReference(doc, renderSettingsReference()));
  console.error(`${path}: settings reference written (${SETTINGS.length + 1} rows)`);
}

// Run only as a program (`node dist/orchestrator/config/docs.js [--write [path]]`), never on import.
const self = fileURLToPath(import.meta.url);
const invoked = process.argv[1];
if (invoked !== undefined && realpathOrSelf(invoked) === self) main(process.argv.slice(2));

function realpathOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
