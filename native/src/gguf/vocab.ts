// A deterministic SentencePiece-style ("llama") vocabulary of any size for generated models.

/** llama.cpp token types (tokenizer.ggml.token_type). */
export const TokenType = {
  NORMAL: 1,
  UNKNOWN: 2,
  CONTROL: 3,
  USER_DEFINED: 4,
  UNUSED: 5,
  BYTE: 6,
} as const;

export interface LlamaVocab {
  readonly tokens: readonly string[];
  readonly scores: Float32Array;
  readonly types: Int32Array;
}

/** <unk>, <s>, </s> and the 256 byte tokens come before the normal tokens. */
export const SPECIAL_TOKEN_COUNT = 3 + 256;

const SPACE = "\u2581"; // SentencePiece's word-boundary marker
const LOWER = "abcdefghijklmnopqrstuvwxyz";
const UPPER = LOWER.toUpperCase();
const COMMON_WORDS = (
  "the of and to in is was he for it with as his on be at by had are but from or have an they " +
  "which one you were her all she there would their we him been has when who will more no if out " +
  "so said what up its about into than them can only other new some could time these two may then " +
  "do first any my now such like our over man me even most made after also did many before must " +
  "through back years where much your way well down should because each just those people how too " +
  "little state good very make world still own see men work long get here between both life being " +
  "under never day same another know while last might us great old year off come since against go " +
  "came right used take three once upon cat dog sun tree happy big small play saw went"
).split(" ");

function* normalTokenCandidates(): Generator<string> {
  yield SPACE;
  for (let c = 0x21; c < 0x7f; c++) yield String.fromCharCode(c);
  for (const ch of LOWER + UPPER) yield SPACE + ch;
  for (const w of COMMON_WORDS) {
    yield SPACE + w;
    yield w;
  }
  // then every lower-case string of length 2, 3, ... with and without the marker
  for (let len = 2; ; len++) {
    const total = LOWER.length ** len;
    for (let i = 0; i < total; i++) {
      let s = "";
      for (let k = 0, v = i; k < len; k++, v = Math.floor(v / LOWER.length)) s = LOWER[v % LOWER.length] + s;
      yield SPACE + s;
      yield s;
    }
  }
}

/** A vocabulary of exactly `nVocab` distinct tokens (nVocab > SPECIAL_TOKEN_COUNT). */
export function makeLlamaVocab(nVocab: number): LlamaVocab {
  if (!Number.isInteger(nVocab) || nVocab <= SPECIAL_TOKEN_COUNT) {
    throw new RangeError(`nVocab must be an integer above ${SPECIAL_TOKEN_COUNT}, got ${nVocab}`);
  }
  const tokens: string[] = ["<unk>", "<s>", "</s>"];
  const types = new Int32Array(nVocab);
  const scores = new Float32Array(nVocab);
  types[0] = TokenType.UNKNOWN;
  types[1] = TokenType.CONTROL;
  types[2] = TokenType.CONTROL;
  for (let b = 0; b < 256; b++) {
    types[tokens.length] = TokenType.BYTE;
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
  }
  const seen = new Set(tokens);
  let rank = 0;
  for (const candidate of normalTokenCandidates()) {
    if (tokens.length >= nVocab) break;
    if (seen.has(candidate)) continue;
    seen.add(candidate);
    types[tokens.length] = TokenType.NORMAL;
    scores[tokens.length] = -rank++;
    tokens.push(candidate);
  }
  return { tokens, scores, types };
}
