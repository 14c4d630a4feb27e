// StreamShaper.deltaFrame: byte for byte the SSE event that JSON.stringify(delta(text)) would make.
import { describe, expect, test } from "bun:test";
import { StreamShaper } from "./service.ts";

const texts = ["a", "", ' "quoted" \\ back', "line\nbreak\ttab", "\u2028\u2029", "é😀中", "\u0000gogrid-delta\u0000", "</script>"];

describe("StreamShaper.deltaFrame", () => {
  for (const kind of ["completion", "chat"] as const) {
    test(`${kind}: the same bytes as the object form, for awkward texts and a model name holding the marker`, () => {
      for (const model of ["stories260K", 'odd "model" \u0000gogrid-delta\u0000 name']) {
        const s = new StreamShaper(kind, "job-1", model);
        for (const t of texts) {
          const frame = s.deltaFrame(t);
          expect(frame).toBe(`data: ${JSON.stringify(s.delta(t))}\n\n`);
          const parsed = JSON.parse(frame.slice(6)) as { model: string; choices: { text?: string; delta?: { content?: string } }[] };
          expect(parsed.model).toBe(model);
          expect(kind === "chat" ? parsed.choices[0]?.delta?.content : parsed.choices[0]?.text).toBe(t);
        }
      }
    });
  }
});
