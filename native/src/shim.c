// GoGrid's by-value-struct shim over libllama, compiled at start-up by Bun's TinyCC (bun:ffi cc).
//
// Bun's FFI cannot pass or return C structs by value, and llama.cpp's API does. Every function
// here takes and returns only pointers and scalars. The shim does not link against libllama:
// the TypeScript side dlopen()s the library and hands us its function pointers in gg_init(), so
// the same shim works for whichever backend library (CPU, CUDA, Vulkan, Metal) was picked.
#include "llama.h"

typedef struct llama_model_params (*fn_model_default_params)(void);
typedef struct llama_context_params (*fn_context_default_params)(void);
typedef struct llama_model *(*fn_model_load_from_file)(const char *, struct llama_model_params);
typedef struct llama_context *(*fn_init_from_model)(struct llama_model *, struct llama_context_params);
typedef int32_t (*fn_decode)(struct llama_context *, struct llama_batch);
typedef struct llama_sampler_chain_params (*fn_sampler_chain_default_params)(void);
typedef struct llama_sampler *(*fn_sampler_chain_init)(struct llama_sampler_chain_params);
typedef void (*fn_log_set)(ggml_log_callback, void *);

static fn_model_default_params p_model_default_params;
static fn_context_default_params p_context_default_params;
static fn_model_load_from_file p_model_load_from_file;
static fn_init_from_model p_init_from_model;
static fn_decode p_decode;
static fn_sampler_chain_default_params p_sampler_chain_default_params;
static fn_sampler_chain_init p_sampler_chain_init;
static fn_log_set p_log_set;
static fn_log_set p_ggml_log_set;

// ---- logging: llama.cpp's log lines are kept in a bounded buffer that TypeScript drains after
// each call into the library (a JS callback from a native thread is not safe to rely on).
#define GG_LOG_CAP 65536
static char g_log[GG_LOG_CAP];
static int g_log_len;
static int g_log_min_level = GGML_LOG_LEVEL_WARN;
static int g_log_last_level = GGML_LOG_LEVEL_INFO;
static int g_log_dropped;

// TinyCC has no atomic builtins, so the buffer is guarded by the platform's mutex (ggml may log
// from its worker threads). The storage is generous and aligned for every platform's mutex type.
#ifdef _WIN32
extern void __stdcall InitializeCriticalSection(void *);
extern void __stdcall EnterCriticalSection(void *);
extern void __stdcall LeaveCriticalSection(void *);
#define GG_LOCK_INIT(m) InitializeCriticalSection(m)
#define GG_LOCK(m) EnterCriticalSection(m)
#define GG_UNLOCK(m) LeaveCriticalSection(m)
#else
extern int pthread_mutex_init(void *, const void *);
extern int pthread_mutex_lock(void *);
extern int pthread_mutex_unlock(void *);
#define GG_LOCK_INIT(m) pthread_mutex_init(m, 0)
#define GG_LOCK(m) pthread_mutex_lock(m)
#define GG_UNLOCK(m) pthread_mutex_unlock(m)
#endif
static long long g_log_lock_storage[32];
static void *const g_log_lock = g_log_lock_storage;

static void gg_log_cb(enum ggml_log_level level, const char *text, void *user) {
  (void)user;
  int lvl = (int)level;
  if (lvl == GGML_LOG_LEVEL_CONT) lvl = g_log_last_level; else g_log_last_level = lvl;
  if (lvl < g_log_min_level || text == 0) return;
  GG_LOCK(g_log_lock);
  int n = 0;
  while (text[n]) n++;
  // one record: level digit, then the text; records are separated by the text's own newlines
  if (g_log_len + n + 2 < GG_LOG_CAP) {
    g_log[g_log_len++] = (char)('0' + lvl);
    for (int i = 0; i < n; i++) g_log[g_log_len++] = text[i];
    g_log[g_log_len++] = '\x1e';
  } else {
    g_log_dropped++;
  }
  GG_UNLOCK(g_log_lock);
}

int gg_log_take(char *out, int cap) {
  GG_LOCK(g_log_lock);
  int n = g_log_len < cap ? g_log_len : cap;
  for (int i = 0; i < n; i++) out[i] = g_log[i];
  // anything not copied stays for the next call
  for (int i = n; i < g_log_len; i++) g_log[i - n] = g_log[i];
  g_log_len -= n;
  GG_UNLOCK(g_log_lock);
  return n;
}

void gg_log_level(int min_level) { g_log_min_level = min_level; }

// fns: the addresses of the libllama/libggml functions above, in this order.
int gg_init(void **fns, int n) {
  if (n != 9) return -1;
  p_model_default_params = (fn_model_default_params)fns[0];
  p_context_default_params = (fn_context_default_params)fns[1];
  p_model_load_from_file = (fn_model_load_from_file)fns[2];
  p_init_from_model = (fn_init_from_model)fns[3];
  p_decode = (fn_decode)fns[4];
  p_sampler_chain_default_params = (fn_sampler_chain_default_params)fns[5];
  p_sampler_chain_init = (fn_sampler_chain_init)fns[6];
  p_log_set = (fn_log_set)fns[7];
  p_ggml_log_set = (fn_log_set)fns[8];
  GG_LOCK_INIT(g_log_lock);
  p_log_set(gg_log_cb, 0);
  p_ggml_log_set(gg_log_cb, 0);
  return 0;
}

// Layout checks: TypeScript compares these with what it expects, so a header/library mismatch
// is a clear error at start-up instead of memory corruption later.
int gg_sizeof_model_params(void) { return (int)sizeof(struct llama_model_params); }
int gg_sizeof_context_params(void) { return (int)sizeof(struct llama_context_params); }
int gg_sizeof_batch(void) { return (int)sizeof(struct llama_batch); }

struct llama_model *gg_load_model(const char *path, int n_gpu_layers, int use_mmap, int vocab_only) {
  struct llama_model_params p = p_model_default_params();
  p.n_gpu_layers = n_gpu_layers;
  p.load_mode = use_mmap ? LLAMA_LOAD_MODE_MMAP : LLAMA_LOAD_MODE_NONE;
  p.vocab_only = vocab_only ? 1 : 0;
  return p_model_load_from_file(path, p);
}

// flags: bit 0 = kv_unified, bit 1 = flash attention enabled (else auto), bit 2 = measure perf
struct llama_context *gg_new_context(struct llama_model *model, int n_ctx, int n_batch, int n_ubatch,
                                     int n_seq_max, int n_threads, int n_threads_batch, int flags) {
  struct llama_context_params p = p_context_default_params();
  p.n_ctx = (uint32_t)n_ctx;
  p.n_batch = (uint32_t)n_batch;
  p.n_ubatch = (uint32_t)n_ubatch;
  p.n_seq_max = (uint32_t)n_seq_max;
  if (n_threads > 0) p.n_threads = n_threads;
  if (n_threads_batch > 0) p.n_threads_batch = n_threads_batch;
  p.kv_unified = (flags & 1) ? 1 : 0;
  if (flags & 2) p.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_ENABLED;
  p.no_perf = (flags & 4) ? 0 : 1;
  return p_init_from_model(model, p);
}

// A batch whose arrays live on our side: one sequence id per token.
typedef struct {
  struct llama_batch b;
  int cap;
  llama_seq_id *seq_storage;
} gg_batch;

extern void *malloc(unsigned long);
extern void free(void *);

gg_batch *gg_batch_new(int cap) {
  gg_batch *g = (gg_batch *)malloc(sizeof(gg_batch));
  if (!g) return 0;
  g->cap = cap;
  g->b.n_tokens = 0;
  g->b.token = (llama_token *)malloc(sizeof(llama_token) * cap);
  g->b.embd = 0;
  g->b.pos = (llama_pos *)malloc(sizeof(llama_pos) * cap);
  g->b.n_seq_id = (int32_t *)malloc(sizeof(int32_t) * cap);
  g->b.seq_id = (llama_seq_id **)malloc(sizeof(llama_seq_id *) * cap);
  g->b.logits = (int8_t *)malloc(cap);
  g->seq_storage = (llama_seq_id *)malloc(sizeof(llama_seq_id) * cap);
  if (!g->b.token || !g->b.pos || !g->b.n_seq_id || !g->b.seq_id || !g->b.logits || !g->seq_storage) return 0;
  for (int i = 0; i < cap; i++) {
    g->b.n_seq_id[i] = 1;
    g->b.seq_id[i] = &g->seq_storage[i];
  }
  return g;
}

void gg_batch_free(gg_batch *g) {
  if (!g) return;
  free(g->b.token);
  free(g->b.pos);
  free(g->b.n_seq_id);
  free(g->b.seq_id);
  free(g->b.logits);
  free(g->seq_storage);
  free(g);
}

// Decodes n tokens given as parallel arrays (token, position, sequence, wants-logits).
// Returns llama_decode's status, or -100 when n does not fit the batch.
int gg_decode(struct llama_context *ctx, gg_batch *g, int n, const int32_t *tokens, const int32_t *pos,
              const int32_t *seq, const int8_t *logits) {
  if (n < 1 || n > g->cap) return -100;
  for (int i = 0; i < n; i++) {
    g->b.token[i] = tokens[i];
    g->b.pos[i] = pos[i];
    g->seq_storage[i] = seq[i];
    g->b.logits[i] = logits[i];
  }
  g->b.n_tokens = n;
  return p_decode(ctx, g->b);
}

// Decodes one token for one sequence (the hot path of single-stream generation).
int gg_decode_one(struct llama_context *ctx, gg_batch *g, int token, int pos, int seq) {
  g->b.token[0] = token;
  g->b.pos[0] = pos;
  g->seq_storage[0] = seq;
  g->b.logits[0] = 1;
  g->b.n_tokens = 1;
  return p_decode(ctx, g->b);
}

// A persistent CPU threadpool (without one, ggml starts and joins its threads in every decode).
// The functions come from the CPU backend, loaded at run time, so their addresses are passed in.
typedef void (*fn_tp_params_init)(struct ggml_threadpool_params *, int);
typedef struct ggml_threadpool *(*fn_tp_new)(struct ggml_threadpool_params *);
typedef void (*fn_tp_free)(struct ggml_threadpool *);

struct ggml_threadpool *gg_threadpool_new(void *params_init, void *tp_new, int n_threads, int poll) {
  struct ggml_threadpool_params p;
  ((fn_tp_params_init)params_init)(&p, n_threads);
  p.poll = (uint32_t)poll;
  return ((fn_tp_new)tp_new)(&p);
}

void gg_threadpool_free(void *tp_free, struct ggml_threadpool *tp) {
  if (tp) ((fn_tp_free)tp_free)(tp);
}

struct llama_sampler *gg_sampler_chain(int measure_perf) {
  struct llama_sampler_chain_params p = p_sampler_chain_default_params();
  p.no_perf = measure_perf ? 0 : 1;
  return p_sampler_chain_init(p);
}
