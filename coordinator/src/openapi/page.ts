// A self-contained HTML overview of the document (no scripts, no CDN: works offline).
import { HTTP_METHODS, type JsonSchema, type OpenApiDocument, type Operation } from "./model.ts";

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
/** Inline `code` spans of descriptions. */
const prose = (s: string) => esc(s).replace(/`([^`]+)`/g, "<code>$1</code>");

function schemaName(s: JsonSchema | undefined): string | null {
  const ref = s?.$ref;
  return typeof ref === "string" ? (ref.split("/").at(-1) ?? null) : null;
}

function bodyLine(doc: OpenApiDocument, op: Operation): string {
  const s = op.requestBody?.content["application/json"]?.schema;
  if (!s) return "";
  const names = Array.isArray(s.oneOf) ? (s.oneOf as JsonSchema[]).map(schemaName) : [schemaName(s)];
  const parts = names.flatMap((name) => {
    if (!name) return [];
    const required = doc.components.schemas[name]?.required;
    const fields = Array.isArray(required) ? required.map((f) => `<code>${esc(String(f))}</code>`).join(", ") : "none";
    return [`<a href="#schema-${esc(name)}">${esc(name)}</a> (required: ${fields})`];
  });
  return `<p class="body">Body: ${parts.join(" or ")}</p>`;
}

function operationHtml(doc: OpenApiDocument, path: string, method: string, op: Operation): string {
  const secured = (op.security ?? doc.security).length > 0;
  const statuses = Object.keys(op.responses).join(" ");
  return `<section class="op" id="${esc(op.operationId)}">
<h3><span class="m ${method}">${method.toUpperCase()}</span> <code>${esc(path)}</code> ${esc(op.summary)}</h3>
${op.description ? `<p>${prose(op.description)}</p>` : ""}${bodyLine(doc, op)}
<p class="meta">${secured ? "Needs <code>Authorization: Bearer &lt;API key&gt;</code>." : "No API key."} Statuses: ${esc(statuses)}.</p>
</section>`;
}

export function renderPage(doc: OpenApiDocument, specUrl: string): string {
  const ops = Object.entries(doc.paths).flatMap(([path, item]) =>
    HTTP_METHODS.flatMap((m) => {
      const op = item[m];
      return op ? [{ path, method: m, op }] : [];
    }),
  );
  const sections = doc.tags
    .map((tag) => {
      const mine = ops.filter((o) => o.op.tags.includes(tag.name));
      return `<h2>${esc(tag.name)}</h2><p>${prose(tag.description)}</p>${mine.map((o) => operationHtml(doc, o.path, o.method, o.op)).join("\n")}`;
    })
    .join("\n");
  const schemas = Object.keys(doc.components.schemas)
    .map((name) => `<li id="schema-${esc(name)}"><code>${esc(name)}</code></li>`)
    .join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(doc.info.title)} ${esc(doc.info.version)}</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:58rem;margin:2rem auto;padding:0 1rem;color:#222}
code{background:#f3f3f3;padding:0 .25em;border-radius:3px}.op{border-top:1px solid #ddd;padding:.4rem 0}
h3{font-size:1rem;margin:.4rem 0}.m{display:inline-block;min-width:4.2em;font-size:.8em;color:#fff;border-radius:3px;text-align:center}
.get{background:#2b7bb9}.post{background:#2f9e44}.delete{background:#c92a2a}.meta{color:#666;font-size:.9em}
</style></head><body>
<h1>${esc(doc.info.title)} <small>${esc(doc.info.version)}</small></h1>
<p>${prose(doc.info.description ?? "")}</p>
<p>Machine-readable OpenAPI ${esc(doc.openapi)} document: <a href="${esc(specUrl)}">${esc(specUrl)}</a> (load it into any OpenAPI viewer or client generator).</p>
${sections}
<h2>Schemas</h2><p>Defined in the JSON document under <code>components/schemas</code>:</p><ul>${schemas}</ul>
</body></html>`;
}
