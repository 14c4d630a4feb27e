// Test helper: a small parser of the Prometheus text exposition format (version 0.0.4).

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  types: Map<string, string>;
  samples: Sample[];
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/y;

function parseValue(raw: string): number {
  if (raw === "+Inf") return Number.POSITIVE_INFINITY;
  if (raw === "-Inf") return Number.NEGATIVE_INFINITY;
  if (/^nan$/i.test(raw)) return Number.NaN; // prom-client writes "Nan"; Prometheus reads it case-insensitively
  const v = Number(raw);
  if (Number.isNaN(v)) throw new Error(`bad sample value: ${raw}`);
  return v;
}

function parseLabels(raw: string): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < raw.length) {
    const start = LABEL.lastIndex;
    const m = LABEL.exec(raw);
    if (!m || LABEL.lastIndex === start) throw new Error(`bad labels: {${raw}}`);
    labels[m[1] as string] = (m[2] as string).replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
  }
  return labels;
}

/** Parses the exposition text; throws on a line it cannot read. */
export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    if (line.startsWith("#")) {
      const t = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
      if (t) types.set(t[1] as string, t[2] as string);
      else if (!line.startsWith("# HELP ")) throw new Error(`bad comment line: ${line}`);
      continue;
    }
    const m = LINE.exec(line);
    if (!m) throw new Error(`bad sample line: ${line}`);
    samples.push({ name: m[1] as string, labels: m[2] ? parseLabels(m[2]) : {}, value: parseValue(m[3] as string) });
  }
  return { types, samples };
}

/** The samples of `name` whose labels include all of `labels`. */
export function find(e: Exposition, name: string, labels: Record<string, string> = {}): Sample[] {
  return e.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** The one sample of `name` with exactly these labels (others ignored: `le` must be given for buckets). */
export function value(e: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  const keys = Object.keys(labels).length;
  return find(e, name, labels).find((s) => Object.keys(s.labels).length === keys)?.value;
}

export async function scrape(app: { handle(r: Request): Promise<Response> }, init: RequestInit = {}): Promise<Exposition> {
  const res = await app.handle(new Request("http://localhost/metrics", init));
  if (res.status !== 200) throw new Error(`scrape answered ${res.status}: ${await res.text()}`);
  return parseExposition(await res.text());
}
