/**
 * docs/benchmarks.md is written by more than one benchmark: `npm run bench` writes the file and
 * keeps the sections the long sub-commands own (`npm run bench:restore`), which replace only
 * their own section.
 */

/** The `## heading` section of `markdown`, from its heading line to the next heading (or the end). */
export function section(markdown: string, heading: string): string | undefined {
  const start = markdown.indexOf(`\n## ${heading}`);
  if (start < 0) return undefined;
  const next = markdown.indexOf("\n## ", start + 1);
  return markdown.slice(start + 1, next < 0 ? undefined : next + 1);
}

/** `markdown` with the `## heading` section holding `body` (appended at the end when absent). */
export function replaceSection(markdown: string, heading: string, body: string): string {
  const fresh = `## ${heading}\n\n${body.trim()}\n`;
  const old = section(markdown, heading);
  if (old === undefined) return `${markdown.trimEnd()}\n\n${fresh}`;
  return markdown.replace(old, old.endsWith("\n\n") ? `${fresh}\n` : fresh);
}
