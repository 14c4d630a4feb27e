// The ceiling of libllama: a plain C greedy generation loop, the same work per token as GoGrid.
//
// usage: c-loop <model.gguf> <backend dir> <threads> <n_ctx> <decode tokens M> <tokens csv> [reps] [threadpool]
//   The prompt is the comma-separated token ids (P = their count), decoded in one llama_decode.
//   Each repetition clears the KV cache, processes the prompt, samples the first token, then runs
//   M-1 single-token decodes; every generated token costs llama_decode + llama_sampler_sample
//   (greedy chain) + llama_vocab_is_eog + llama_token_to_piece, as a real generation does.
//   reps > 0: one warm-up, then `reps` timed runs; prints one JSON line per run and a last line
//             {"median":true,...} with the medians.
//   reps = 0 (default): prints {"ready":true,...}, then runs one repetition per "run" line on
//             stdin and answers one JSON line each; "run N D" generates N tokens instead of M
//             (N = 0: M) and stops early with "aborted":true after D ms (0: no limit); "quit" or
//             end of input exits. (The bench harness uses
//             this mode to interleave engines run by run.)
//   threadpool = 1: attach one persistent ggml CPU threadpool to the context (llama_attach_threadpool,
//             as llama-cli does). Default 0, like GoGrid: then ggml makes a throw-away threadpool in
//             every llama_decode (one thread created and joined per decode with 2 threads).
//   n_seq > 1 (9th argument, default 1): batched decoding of n_seq sequences in one context
//             (n_ctx cells each, n_seq_max = n_seq, as GoGrid's createContext({sequences})). The
//             tokens csv may hold one prompt per sequence separated by ';' (else all share one).
//             Each run decodes the prompts packed into batches of up to 512 tokens, then M-1
//             steps that each decode one token of every sequence in one batch. tg_tps is then the AGGREGATE rate:
//             all n_seq*M generated tokens over the whole run (prompts included); pp_tps is all
//             prompt tokens over the prompt phase. (bench/batch.ts uses this as its anchor.)
//   n_gpu_layers (10th argument, default 0): layers offloaded to the GPU of a GPU build (-1 or
//             anything above the layer count: all), the same number GoGrid's gg_load_model gets.
//   kv_unified (11th argument, default 0): one KV buffer for all sequences (llama.cpp kv_unified).
//   Every run also prints "seq_fnv": per sequence, FNV-1a over its generated token ids, so a
//   caller can tell whether a sequence's output changed with the batch it ran in.
// JSON per run: {"pp_tps":..,"tg_tps":..,"pp_ms":..,"tg_ms":..,"prompt_tokens":P,"generated":M,"aborted":false,"seq_fnv":[..]}
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "llama.h"

static void quiet_log(enum ggml_log_level level, const char *text, void *user) {
  (void)user;
  if (level == GGML_LOG_LEVEL_ERROR) fputs(text, stderr);
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof(double), cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

typedef struct {
  struct llama_context *ctx;
  const struct llama_vocab *vocab;
  llama_token *prompt;
  int n_prompt;
  int n_decode;
  int n_seq;
  // n_seq > 1: each sequence's prompt (pointers into `prompt`) and length
  llama_token **seq_prompt;
  int *seq_len;
  struct llama_batch batch;
} bench_t;

typedef struct {
  double pp_ms, tg_ms;
  int generated;
  int status;
  int aborted;
  unsigned *fnv; // per sequence, FNV-1a of its token ids
} run_t;

static void fnv_add(unsigned *h, llama_token tok) {
  unsigned v = (unsigned)tok;
  for (int k = 0; k < 4; k++) {
    *h ^= (v >> (8 * k)) & 0xffu;
    *h *= 16777619u;
  }
}

// Pays for what every generated token costs in a real generation.
static volatile long g_sink;
static void consume(const struct llama_vocab *vocab, llama_token tok) {
  char piece[256];
  g_sink += llama_vocab_is_eog(vocab, tok); // checked, then ignored (ignoreEos)
  g_sink += llama_token_to_piece(vocab, tok, piece, (int32_t)sizeof piece, 0, false);
}

// deadline_ms > 0: stop early (aborted = 1) when the run has taken longer than that.
static run_t run_once(bench_t *b, int n_decode, double deadline_ms) {
  static unsigned fnv1;
  run_t r = {0, 0, 0, 0, 0, &fnv1};
  fnv1 = 2166136261u;
  llama_memory_clear(llama_get_memory(b->ctx), true);
  struct llama_sampler_chain_params sp = llama_sampler_chain_default_params();
  sp.no_perf = true;
  struct llama_sampler *smpl = llama_sampler_chain_init(sp);
  llama_sampler_chain_add(smpl, llama_sampler_init_greedy());

  double t0 = now_ms();
  // llama_batch_get_one: positions follow the cache, sequence 0, logits for the last token only.
  r.status = llama_decode(b->ctx, llama_batch_get_one(b->prompt, b->n_prompt));
  if (r.status != 0) goto done;
  llama_token tok = llama_sampler_sample(smpl, b->ctx, -1);
  consume(b->vocab, tok);
  fnv_add(r.fnv, tok);
  r.generated = 1;
  double t1 = now_ms();
  for (int i = 1; i < n_decode; i++) {
    if (deadline_ms > 0 && now_ms() - t0 > deadline_ms) {
      r.aborted = 1;
      break;
    }
    r.status = llama_decode(b->ctx, llama_batch_get_one(&tok, 1));
    if (r.status != 0) goto done;
    tok = llama_sampler_sample(smpl, b->ctx, -1);
    consume(b->vocab, tok);
    fnv_add(r.fnv, tok);
    r.generated++;
  }
  double t2 = now_ms();
  r.pp_ms = t1 - t0;
  r.tg_ms = t2 - t1;
done:
  llama_sampler_free(smpl);
  return r;
}

// n_seq sequences at once: every prompt decoded, then one batch per step with a token of each.
// r.tg_ms is the whole run; r.generated counts the tokens of all sequences.
static run_t run_batched(bench_t *b, int n_decode) {
  static unsigned fnv[256];
  run_t r = {0, 0, 0, 0, 0, fnv};
  for (int s = 0; s < b->n_seq; s++) fnv[s] = 2166136261u;
  llama_memory_clear(llama_get_memory(b->ctx), true);
  struct llama_sampler_chain_params sp = llama_sampler_chain_default_params();
  sp.no_perf = true;
  struct llama_sampler **smpl = malloc(sizeof(*smpl) * (size_t)b->n_seq);
  llama_token *last = malloc(sizeof(llama_token) * (size_t)b->n_seq);
  for (int s = 0; s < b->n_seq; s++) {
    smpl[s] = llama_sampler_chain_init(sp);
    llama_sampler_chain_add(smpl[s], llama_sampler_init_greedy());
  }
  struct llama_batch *bt = &b->batch;
  double t0 = now_ms();
  // the prompts packed into batches of up to 512 tokens (as GoGrid's decode loop packs them)
  int *out_idx = malloc(sizeof(int) * (size_t)b->n_seq);
  for (int s = 0; s < b->n_seq && r.status == 0;) {
    int first = s, n = 0;
    while (s < b->n_seq && n + b->seq_len[s] <= 512) {
      for (int i = 0; i < b->seq_len[s]; i++, n++) {
        bt->token[n] = b->seq_prompt[s][i];
        bt->pos[n] = i;
        bt->n_seq_id[n] = 1;
        bt->seq_id[n][0] = s;
        bt->logits[n] = i == b->seq_len[s] - 1;
      }
      out_idx[s++] = n - 1;
    }
    bt->n_tokens = n;
    r.status = llama_decode(b->ctx, *bt);
    if (r.status != 0) break;
    for (int k = first; k < s; k++) {
      last[k] = llama_sampler_sample(smpl[k], b->ctx, out_idx[k]);
      consume(b->vocab, last[k]);
      fnv_add(&r.fnv[k], last[k]);
      r.generated++;
    }
  }
  free(out_idx);
  double t1 = now_ms();
  for (int step = 1; step < n_decode && r.status == 0; step++) {
    bt->n_tokens = b->n_seq;
    for (int s = 0; s < b->n_seq; s++) {
      bt->token[s] = last[s];
      bt->pos[s] = b->seq_len[s] + step - 1;
      bt->n_seq_id[s] = 1;
      bt->seq_id[s][0] = s;
      bt->logits[s] = 1;
    }
    r.status = llama_decode(b->ctx, *bt);
    if (r.status != 0) break;
    for (int s = 0; s < b->n_seq; s++) {
      last[s] = llama_sampler_sample(smpl[s], b->ctx, s);
      consume(b->vocab, last[s]);
      fnv_add(&r.fnv[s], last[s]);
      r.generated++;
    }
  }
  double t2 = now_ms();
  r.pp_ms = t1 - t0;
  r.tg_ms = t2 - t0;
  for (int s = 0; s < b->n_seq; s++) llama_sampler_free(smpl[s]);
  free(smpl);
  free(last);
  return r;
}

static void print_batched(const run_t *r, const bench_t *b) {
  int prompt = 0;
  for (int s = 0; s < b->n_seq; s++) prompt += b->seq_len[s];
  double pp = r->pp_ms > 0 ? prompt * 1e3 / r->pp_ms : 0;
  double tg = r->tg_ms > 0 ? r->generated * 1e3 / r->tg_ms : 0;
  printf("{\"pp_tps\":%.3f,\"tg_tps\":%.3f,\"pp_ms\":%.3f,\"tg_ms\":%.3f,\"prompt_tokens\":%d,\"generated\":%d,\"sequences\":%d,"
         "\"aborted\":false,\"seq_fnv\":[",
         pp, tg, r->pp_ms, r->tg_ms, prompt, r->generated, b->n_seq);
  for (int s = 0; s < b->n_seq; s++) printf("%s%u", s ? "," : "", r->fnv[s]);
  printf("]}\n");
  fflush(stdout);
}

static void print_run(const run_t *r, int n_prompt) {
  double pp = r->pp_ms > 0 ? n_prompt * 1e3 / r->pp_ms : 0;
  double tg = r->tg_ms > 0 ? (r->generated - 1) * 1e3 / r->tg_ms : 0;
  printf("{\"pp_tps\":%.3f,\"tg_tps\":%.3f,\"pp_ms\":%.3f,\"tg_ms\":%.3f,\"prompt_tokens\":%d,\"generated\":%d,\"aborted\":%s,\"seq_fnv\":[%u]}\n",
         pp, tg, r->pp_ms, r->tg_ms, n_prompt, r->generated, r->aborted ? "true" : "false", r->fnv[0]);
  fflush(stdout);
}

static int parse_tokens(const char *csv, llama_token **out) {
  int cap = 1;
  for (const char *c = csv; *c; c++) cap += *c == ',' || *c == ';';
  llama_token *t = malloc(sizeof(llama_token) * (size_t)cap);
  int n = 0;
  const char *c = csv;
  while (*c && n < cap) {
    char *end;
    long v = strtol(c, &end, 10);
    if (end == c) break;
    t[n++] = (llama_token)v;
    c = (*end == ',' || *end == ';') ? end + 1 : end;
  }
  *out = t;
  return n;
}

int main(int argc, char **argv) {
  if (argc < 7) {
    fprintf(stderr, "usage: %s <model> <backend dir> <threads> <n_ctx> <decode tokens> <tokens csv> [reps]\n", argv[0]);
    return 2;
  }
  const char *model_path = argv[1];
  int threads = atoi(argv[3]);
  int n_ctx = atoi(argv[4]);
  bench_t b = {0};
  b.n_decode = atoi(argv[5]);
  b.n_prompt = parse_tokens(argv[6], &b.prompt);
  int reps = argc > 7 ? atoi(argv[7]) : 0;
  int use_threadpool = argc > 8 ? atoi(argv[8]) : 0;
  b.n_seq = argc > 9 ? atoi(argv[9]) : 1;
  int n_gpu_layers = argc > 10 ? atoi(argv[10]) : 0;
  int kv_unified = argc > 11 ? atoi(argv[11]) : 0;
  if (b.n_seq < 1 || b.n_seq > 256) {
    fprintf(stderr, "c-loop: n_seq must be 1 to 256\n");
    return 2;
  }
  // per-sequence prompts: ';' separates them (one prompt given: every sequence uses it)
  b.seq_prompt = malloc(sizeof(llama_token *) * (size_t)b.n_seq);
  b.seq_len = malloc(sizeof(int) * (size_t)b.n_seq);
  {
    int parts = 1;
    for (const char *c = argv[6]; *c; c++) parts += *c == ';';
    if (parts != 1 && parts != b.n_seq) {
      fprintf(stderr, "c-loop: %d prompts given for %d sequences\n", parts, b.n_seq);
      return 2;
    }
    // a segment of k ids has k-1 commas: count the ids of each ';'-separated segment
    int seq = 0, start = 0, ids = 1;
    for (const char *c = argv[6];; c++) {
      if (*c == ',') ids++;
      if (parts > 1 && (*c == ';' || *c == '\0')) {
        b.seq_prompt[seq] = b.prompt + start;
        b.seq_len[seq] = ids;
        start += ids;
        ids = 1;
        seq++;
      }
      if (*c == '\0') break;
    }
    if (parts == 1) {
      for (int s = 0; s < b.n_seq; s++) {
        b.seq_prompt[s] = b.prompt;
        b.seq_len[s] = b.n_prompt;
      }
    }
  }
  for (int s = 0; s < b.n_seq; s++) {
    if (b.seq_len[s] < 1 || b.seq_len[s] > 512 || b.seq_len[s] + b.n_decode > n_ctx) {
      fprintf(stderr, "c-loop: bad arguments (need 1<=P<=512 and P+M<=n_ctx for every prompt)\n");
      return 2;
    }
  }
  if (threads < 1 || n_ctx < 16 || b.n_decode < 2 || b.n_prompt < 1 || (b.n_seq == 1 && (b.n_prompt + b.n_decode > n_ctx || b.n_prompt > 512))) {
    fprintf(stderr, "c-loop: bad arguments (need threads>=1, decode>=2, 1<=P<=512, P+M<=n_ctx)\n");
    return 2;
  }

  llama_log_set(quiet_log, NULL);
  ggml_log_set(quiet_log, NULL);
  llama_backend_init();
  ggml_backend_load_all_from_path(argv[2]);

  struct llama_model_params mp = llama_model_default_params();
  mp.n_gpu_layers = n_gpu_layers;
  mp.load_mode = LLAMA_LOAD_MODE_MMAP;
  struct llama_model *model = llama_model_load_from_file(model_path, mp);
  if (!model) {
    fprintf(stderr, "c-loop: could not load %s\n", model_path);
    return 1;
  }
  // The same context parameters as GoGrid's gg_new_context (flash attention left on auto).
  struct llama_context_params cp = llama_context_default_params();
  cp.n_ctx = (uint32_t)n_ctx * (uint32_t)b.n_seq;
  cp.n_batch = 512;
  cp.n_ubatch = 512;
  cp.n_seq_max = (uint32_t)b.n_seq;
  cp.n_threads = threads;
  cp.n_threads_batch = threads;
  cp.kv_unified = kv_unified != 0;
  cp.no_perf = true;
  b.ctx = llama_init_from_model(model, cp);
  if (!b.ctx) {
    fprintf(stderr, "c-loop: could not create a context\n");
    return 1;
  }
  struct ggml_threadpool *tp = NULL;
  if (use_threadpool) {
    // The CPU backend is a dynamically loaded module: reach its threadpool API through the registry.
    ggml_backend_dev_t cpu = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
    ggml_backend_reg_t reg = cpu ? ggml_backend_dev_backend_reg(cpu) : NULL;
    typedef struct ggml_threadpool *(*tp_new_fn)(struct ggml_threadpool_params *);
    tp_new_fn tp_new = reg ? (tp_new_fn)ggml_backend_reg_get_proc_address(reg, "ggml_threadpool_new") : NULL;
    if (!tp_new) {
      fprintf(stderr, "c-loop: the CPU backend has no ggml_threadpool_new\n");
      return 1;
    }
    struct ggml_threadpool_params tpp = ggml_threadpool_params_default(threads);
    tp = tp_new(&tpp);
    llama_attach_threadpool(b.ctx, tp, tp);
  }
  b.batch = llama_batch_init(512 > b.n_seq ? 512 : b.n_seq, 0, 1);
  b.vocab = llama_model_get_vocab(model);
  int n_vocab = llama_vocab_n_tokens(b.vocab);
  for (int i = 0; i < b.n_prompt; i++) {
    if (b.prompt[i] < 0 || b.prompt[i] >= n_vocab) {
      fprintf(stderr, "c-loop: token %d out of range (vocab %d)\n", b.prompt[i], n_vocab);
      return 2;
    }
  }

  int rc = 0;
  if (reps > 0) {
    double *pp = malloc(sizeof(double) * (size_t)reps), *tg = malloc(sizeof(double) * (size_t)reps);
    if (b.n_seq > 1) run_batched(&b, b.n_decode); // warm-up
    else run_once(&b, b.n_decode, 0);
    for (int i = 0; i < reps && rc == 0; i++) {
      run_t r = b.n_seq > 1 ? run_batched(&b, b.n_decode) : run_once(&b, b.n_decode, 0);
      if (r.status != 0) {
        fprintf(stderr, "c-loop: llama_decode returned %d\n", r.status);
        rc = 1;
        break;
      }
      if (b.n_seq > 1) {
        print_batched(&r, &b);
        int prompt = 0;
        for (int s = 0; s < b.n_seq; s++) prompt += b.seq_len[s];
        pp[i] = prompt * 1e3 / r.pp_ms;
        tg[i] = r.generated * 1e3 / r.tg_ms;
        continue;
      }
      print_run(&r, b.n_prompt);
      pp[i] = b.n_prompt * 1e3 / r.pp_ms;
      tg[i] = (r.generated - 1) * 1e3 / r.tg_ms;
    }
    if (rc == 0) printf("{\"median\":true,\"pp_tps\":%.3f,\"tg_tps\":%.3f,\"reps\":%d}\n", median(pp, reps), median(tg, reps), reps);
    free(pp);
    free(tg);
  } else {
    printf("{\"ready\":true,\"n_vocab\":%d,\"n_ctx\":%u,\"threads\":%d,\"threadpool\":%s}\n", n_vocab, llama_n_ctx(b.ctx), threads,
           tp ? "true" : "false");
    fflush(stdout);
    char line[64];
    while (fgets(line, sizeof line, stdin)) {
      if (strncmp(line, "quit", 4) == 0) break;
      if (strncmp(line, "run", 3) != 0) continue;
      char *rest;
      long n = strtol(line + 3, &rest, 10);
      double deadline = strtod(rest, NULL);
      int want = n >= 2 && n <= b.n_decode ? (int)n : b.n_decode;
      run_t r = b.n_seq > 1 ? run_batched(&b, want) : run_once(&b, want, deadline);
      if (r.status != 0) {
        printf("{\"error\":\"llama_decode returned %d\"}\n", r.status);
        fflush(stdout);
        continue;
      }
      if (b.n_seq > 1) print_batched(&r, &b);
      else print_run(&r, b.n_prompt);
    }
  }
  llama_batch_free(b.batch);
  llama_free(b.ctx);
  if (tp) {
    // freed after the context that used it (ggml_threadpool_free lives in the same module)
    ggml_backend_dev_t cpu = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
    typedef void (*tp_free_fn)(struct ggml_threadpool *);
    tp_free_fn tp_free = (tp_free_fn)ggml_backend_reg_get_proc_address(ggml_backend_dev_backend_reg(cpu), "ggml_threadpool_free");
    if (tp_free) tp_free(tp);
  }
  llama_model_free(model);
  free(b.prompt);
  free(b.seq_prompt);
  free(b.seq_len);
  return rc;
}
