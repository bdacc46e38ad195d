/*
 * snap.c -- snapshot files and snapshot sync (see snap.h): the durable
 * snapshot record, the answers a peer serves, and the Merkle walk with one
 * task per subtree, cancellation through every level and bounded sends.
 */
#include "snap.h"

#include <assert.h>
#include <string.h>

#include "codec.h"
#include "raft_msg.h"

#include <xxhash.h>

#define SNAP__FILE "raft.snap"
#define SNAP__TMP "raft.snap.tmp"
#define SNAP__MAGIC 0x4e534652u /* "RFSN" */
#define SNAP__HDR 28
#define SNAP__MAX (SNAP__HDR + BLOCK_ENCODED_MAX + STATE_ACCOUNTS * 8 + 8)
#define SNAP__JOIN_NS (10 * RT_SEC) /* bound on joining cancelled tasks */

/* ---- the file -------------------------------------------------------------- */

int snap_save(const snap_image *img, bool sync) {
    assert(img != NULL && img->index > 0 && img->b.height == img->index);
    uint8_t *buf = rt_malloc(SNAP__MAX);
    if (buf == NULL) return RT_ENOMEM;
    node_put_u32(buf, SNAP__MAGIC);
    node_put_u32(buf + 4, 1);
    node_put_u64(buf + 8, img->index);
    node_put_u64(buf + 16, img->term);
    size_t bl = block_encode(&img->b, buf + SNAP__HDR, BLOCK_ENCODED_MAX);
    assert(bl > 0);
    node_put_u32(buf + 24, (uint32_t)bl);
    size_t off = SNAP__HDR + bl;
    for (uint32_t a = 0; a < STATE_ACCOUNTS; a++, off += 8) node_put_u64(buf + off, img->st.bal[a]);
    node_put_u64(buf + off, XXH3_64bits(buf, off));
    off += 8;
    rt_file *f = NULL;
    (void)rt_file_delete(SNAP__TMP);
    int rc = rt_file_open(SNAP__TMP, RT_O_CREATE, &f);
    if (rc == RT_OK) {
        rc = rt_file_write(f, 0, buf, off);
        if (rc == RT_OK && sync) rc = rt_file_sync(f);
        rt_file_close(f);
    }
    if (rc == RT_OK) rc = rt_file_rename(SNAP__TMP, SNAP__FILE);
    rt_free(buf);
    return rc;
}

int snap_load(snap_image *img) {
    assert(img != NULL);
    memset(img, 0, sizeof *img);
    if (!rt_file_exists(SNAP__FILE)) return RT_ENOENT;
    rt_file *f = NULL;
    if (rt_file_open(SNAP__FILE, RT_O_READONLY, &f) != RT_OK) return RT_ENOENT;
    uint8_t *buf = rt_malloc(SNAP__MAX);
    int rc = buf == NULL ? RT_ENOMEM : RT_ENOENT;
    size_t got = 0;
    if (buf != NULL && rt_file_read(f, 0, buf, SNAP__MAX, &got) == RT_OK && got >= SNAP__HDR &&
        node_get_u32(buf) == SNAP__MAGIC) {
        uint32_t bl = node_get_u32(buf + 24);
        size_t end = SNAP__HDR + (size_t)bl + STATE_ACCOUNTS * 8;
        if (bl <= BLOCK_ENCODED_MAX && got == end + 8 && XXH3_64bits(buf, end) == node_get_u64(buf + end) &&
            block_decode(buf + SNAP__HDR, bl, &img->b) && img->b.height == node_get_u64(buf + 8)) {
            uint64_t bal[STATE_ACCOUNTS];
            for (uint32_t a = 0; a < STATE_ACCOUNTS; a++) bal[a] = node_get_u64(buf + SNAP__HDR + bl + 8 * a);
            img->index = node_get_u64(buf + 8);
            img->term = node_get_u64(buf + 16);
            block_hash(&img->b, img->hash);
            state_load(&img->st, bal);
            rc = img->index > 0 ? RT_OK : RT_ENOENT;
        }
    }
    if (buf != NULL) rt_free(buf);
    rt_file_close(f);
    if (rc != RT_OK) memset(img, 0, sizeof *img);
    return rc;
}

uint32_t snap_serve(const state_t *st, uint32_t node, uint8_t *out) {
    if (node == 0 || node > SNAP_TREE_TASKS) return 0;
    if (node < SNAP_CHUNK_FIRST) {
        memcpy(out, st->tree[2 * node], STATE_HASH_LEN);
        memcpy(out + STATE_HASH_LEN, st->tree[2 * node + 1], STATE_HASH_LEN);
        return 2 * STATE_HASH_LEN;
    }
    uint32_t first = (node - SNAP_CHUNK_FIRST) * SNAP_CHUNK_ACCOUNTS;
    for (uint32_t i = 0; i < SNAP_CHUNK_ACCOUNTS; i++) node_put_u64(out + 8 * i, st->bal[first + i]);
    return SNAP_CHUNK_ACCOUNTS * 8;
}

/* ---- the walk ----------------------------------------------------------------- */

typedef struct snap__reply {
    uint32_t len;
    uint8_t data[RAFT_MSG_CHUNK_MAX];
} snap__reply;

struct snap_session {
    snap_cfg cfg;
    uint32_t id, peer;
    uint64_t term, index;
    uint8_t root[STATE_HASH_LEN];
    int64_t deadline;   /* monotonic: the session's end */
    rt_ctx *ctx;        /* child of the engine's context, with the timeout */
    rt_wg *wg;          /* the root task */
    rt_chan *done;      /* int, cap 1 */
    rt_chan *slot[SNAP_TREE_TASKS + 1]; /* answers per tree node, cap 1 */
    uint64_t bal[STATE_ACCOUNTS];       /* filled by the chunk tasks */
    void *rootw;                        /* the root task's walker */
};

typedef struct snap__walker {
    snap_session *s;
    uint32_t node;
    uint8_t expect[STATE_HASH_LEN];
    rt_ctx *ctx;   /* given by the parent, released by the parent */
    rt_chan *up;   /* where the result goes (unbuffered; the root's: done) */
    rt_wg *wg;     /* the parent's */
} snap__walker;

static void snap__walk(void *arg);

/* Waits for the answer to node's request, asking again every req_ns.
 * RT_OK and *r, RT_ECANCELED or RT_ETIMEDOUT (the session's deadline). */
static int snap__fetch(snap__walker *w, snap__reply *r) {
    snap_session *s = w->s;
    uint8_t buf[40];
    size_t len = raft_msg_snap_req(buf, sizeof buf, s->term, s->index, s->id, w->node);
    assert(len > 0);
    for (;;) {
        if (!s->cfg.leaky && rt_ctx_err(w->ctx) != RT_OK) return RT_ECANCELED;
        int64_t left = s->deadline - rt_mono_ns();
        if (left <= 0) return RT_ETIMEDOUT;
        (void)rt_send(s->peer, buf, len);
        int64_t wait = left < s->cfg.req_ns ? left : s->cfg.req_ns;
        if (s->cfg.leaky) {
            if (rt_chan_recv(s->slot[w->node], r, wait) == RT_OK) return RT_OK;
            continue;
        }
        rt_case cs[2] = {{rt_ctx_done(w->ctx), RT_RECV, NULL, 0}, {s->slot[w->node], RT_RECV, r, 0}};
        int fired = rt_select(cs, 2, wait);
        if (fired == 0) return RT_ECANCELED;
        if (fired == 1 && cs[1].result == RT_OK) return RT_OK;
    }
}

/* Sends the result up: bounded by the context and the deadline (or, leaky,
 * not at all: the digest's bug). */
static void snap__report(snap__walker *w, int res) {
    if (w->node == 1) { /* the root: its channel (done, cap 1) always has room */
        int rc = rt_chan_send(w->up, &res, 0);
        assert(rc == RT_OK);
        (void)rc;
        return;
    }
    if (w->s->cfg.leaky) {
        rt_task_note("snap: result to parent (leaky, no cancel case)");
        (void)rt_chan_send(w->up, &res, RT_FOREVER);
        return;
    }
    int64_t left = w->s->deadline - rt_mono_ns();
    rt_case cs[2] = {{rt_ctx_done(w->ctx), RT_RECV, NULL, 0}, {w->up, RT_SEND, &res, 0}};
    (void)rt_select(cs, 2, left > 0 ? left : 0);
}

/* Inner node: spawns the two children under a child context and collects
 * their results; joins them before returning (unless leaky and failed). */
static int snap__children(snap__walker *w, const uint8_t *hashes) {
    snap_session *s = w->s;
    rt_ctx *kids = rt_ctx_with_cancel(w->ctx);
    rt_chan *up = rt_chan_new("snap.up", sizeof(int), 0);
    rt_wg *wg = rt_wg_new();
    snap__walker *c = rt_calloc(2, sizeof *c);
    if (kids == NULL || up == NULL || wg == NULL || c == NULL) {
        if (c != NULL) rt_free(c);
        if (wg != NULL) rt_wg_free(wg);
        if (up != NULL) rt_chan_free(up);
        if (kids != NULL) rt_ctx_release(kids);
        return RT_ENOMEM;
    }
    int spawned = 0, res = RT_OK;
    for (int i = 0; i < 2; i++) {
        c[i].s = s;
        c[i].node = 2 * w->node + (uint32_t)i;
        memcpy(c[i].expect, hashes + i * STATE_HASH_LEN, STATE_HASH_LEN);
        c[i].ctx = kids;
        c[i].up = up;
        c[i].wg = wg;
        rt_wg_add(wg, 1);
        if (rt_spawn("snap-walk", snap__walk, &c[i]) != RT_OK) {
            rt_wg_add(wg, -1);
            res = RT_ENOMEM;
            break;
        }
        spawned++;
    }
    for (int got = 0; got < spawned && res == RT_OK; got++) {
        int r = RT_ETIMEDOUT;
        int64_t left = s->deadline - rt_mono_ns();
        if (left <= 0) {
            res = RT_ETIMEDOUT;
            break;
        }
        if (s->cfg.leaky) {
            if (rt_chan_recv(up, &r, left) != RT_OK) r = RT_ETIMEDOUT;
        } else {
            rt_case cs[2] = {{rt_ctx_done(w->ctx), RT_RECV, NULL, 0}, {up, RT_RECV, &r, 0}};
            int fired = rt_select(cs, 2, left);
            if (fired == 0) r = RT_ECANCELED;
            else if (fired != 1 || cs[1].result != RT_OK) r = RT_ETIMEDOUT;
        }
        if (r != RT_OK) res = r;
    }
    if (res != RT_OK && s->cfg.leaky) return res; /* the bug: give up, leave the children blocked */
    rt_ctx_cancel(kids);
    if (rt_wg_wait(wg, SNAP__JOIN_NS) != RT_OK) {
        rt_log(RT_LOG_ERROR, "snap: children of tree node %u did not quit", (unsigned)w->node);
        return RT_ETIMEDOUT; /* cannot free what they hold */
    }
    rt_free(c);
    rt_wg_free(wg);
    rt_chan_free(up);
    rt_ctx_release(kids);
    return res;
}

/* Fetches and verifies the walker's node, then its subtree. */
static int snap__walk_node(snap__walker *w) {
    snap_session *s = w->s;
    snap__reply r;
    int rc = snap__fetch(w, &r);
    if (rc != RT_OK) return rc;
    if (w->node < SNAP_CHUNK_FIRST) {
        uint8_t h[STATE_HASH_LEN];
        if (r.len != 2 * STATE_HASH_LEN) return RT_EINVAL;
        state_hash_pair(r.data, r.data + STATE_HASH_LEN, h);
        if (memcmp(h, w->expect, STATE_HASH_LEN) != 0) return RT_EINVAL;
        return snap__children(w, r.data);
    }
    if (r.len != SNAP_CHUNK_ACCOUNTS * 8) return RT_EINVAL;
    uint64_t bal[SNAP_CHUNK_ACCOUNTS];
    for (uint32_t i = 0; i < SNAP_CHUNK_ACCOUNTS; i++) bal[i] = node_get_u64(r.data + 8 * i);
    uint32_t first = (w->node - SNAP_CHUNK_FIRST) * SNAP_CHUNK_ACCOUNTS;
    uint8_t h[STATE_HASH_LEN];
    state_range_root(first, SNAP_CHUNK_ACCOUNTS, bal, h);
    if (memcmp(h, w->expect, STATE_HASH_LEN) != 0) return RT_EINVAL;
    memcpy(s->bal + first, bal, sizeof bal);
    return RT_OK;
}

/* The task of one subtree. */
static void snap__walk(void *arg) {
    snap__walker *w = arg;
    rt_wg *wg = w->wg;
    snap__report(w, snap__walk_node(w));
    rt_wg_done(wg); /* w belongs to the parent from here on */
}

snap_session *snap_session_start(rt_ctx *parent, const snap_cfg *cfg, uint32_t peer, uint64_t term,
                                 uint64_t index, const uint8_t root[STATE_HASH_LEN], uint32_t id) {
    assert(parent != NULL && cfg != NULL && cfg->timeout_ns > 0 && cfg->req_ns > 0);
    snap_session *s = rt_calloc(1, sizeof *s);
    snap__walker *w = rt_calloc(1, sizeof *w);
    if (s == NULL || w == NULL) goto fail;
    s->cfg = *cfg;
    s->id = id;
    s->peer = peer;
    s->term = term;
    s->index = index;
    memcpy(s->root, root, STATE_HASH_LEN);
    s->deadline = rt_mono_ns() + cfg->timeout_ns;
    s->ctx = rt_ctx_with_timeout(parent, cfg->timeout_ns);
    s->wg = rt_wg_new();
    s->done = rt_chan_new("snap.done", sizeof(int), 1);
    for (uint32_t k = 1; k <= SNAP_TREE_TASKS; k++) s->slot[k] = rt_chan_new("snap.chunk", sizeof(snap__reply), 1);
    for (uint32_t k = 1; k <= SNAP_TREE_TASKS; k++)
        if (s->slot[k] == NULL) goto fail;
    if (s->ctx == NULL || s->wg == NULL || s->done == NULL) goto fail;
    s->rootw = w;
    w->s = s;
    w->node = 1;
    memcpy(w->expect, root, STATE_HASH_LEN);
    w->ctx = s->ctx;
    w->up = s->done;
    w->wg = s->wg;
    rt_wg_add(s->wg, 1);
    if (rt_spawn("snap-walk", snap__walk, w) != RT_OK) {
        rt_wg_add(s->wg, -1);
        goto fail;
    }
    return s;
fail:
    if (s != NULL) {
        for (uint32_t k = 1; k <= SNAP_TREE_TASKS; k++)
            if (s->slot[k] != NULL) rt_chan_free(s->slot[k]);
        if (s->done != NULL) rt_chan_free(s->done);
        if (s->wg != NULL) rt_wg_free(s->wg);
        if (s->ctx != NULL) rt_ctx_release(s->ctx);
        rt_free(s);
    }
    if (w != NULL) rt_free(w);
    return NULL;
}

rt_chan *snap_session_done(snap_session *s) { return s->done; }
uint32_t snap_session_id(const snap_session *s) { return s->id; }
uint64_t snap_session_index(const snap_session *s) { return s->index; }
uint64_t snap_session_term(const snap_session *s) { return s->term; }
uint32_t snap_session_peer(const snap_session *s) { return s->peer; }

void snap_session_deliver(snap_session *s, uint32_t node, const uint8_t *data, uint32_t len) {
    if (node == 0 || node > SNAP_TREE_TASKS || len > RAFT_MSG_CHUNK_MAX) return;
    snap__reply r;
    r.len = len;
    memcpy(r.data, data, len);
    (void)rt_chan_send(s->slot[node], &r, 0);
}

bool snap_session_end(snap_session *s, int result, uint64_t bal[STATE_ACCOUNTS]) {
    assert(s != NULL);
    if (s->cfg.leaky && result != RT_OK) {
        rt_log(RT_LOG_WARN, "snap: sync %u abandoned (leaky)", (unsigned)s->id);
        return false; /* the bug: the tasks (and what they hold) stay */
    }
    rt_ctx_cancel(s->ctx);
    if (rt_wg_wait(s->wg, SNAP__JOIN_NS) != RT_OK) {
        rt_log(RT_LOG_ERROR, "snap: sync %u: tasks did not quit", (unsigned)s->id);
        return false;
    }
    bool ok = result == RT_OK;
    if (ok) {
        state_t *st = rt_malloc(sizeof *st);
        ok = st != NULL;
        if (ok) {
            state_load(st, s->bal);
            ok = memcmp(state_root(st), s->root, STATE_HASH_LEN) == 0;
            rt_free(st);
        }
        if (ok) memcpy(bal, s->bal, sizeof s->bal);
    }
    rt_free(s->rootw);
    for (uint32_t k = 1; k <= SNAP_TREE_TASKS; k++) rt_chan_free(s->slot[k]);
    rt_chan_free(s->done);
    rt_wg_free(s->wg);
    rt_ctx_release(s->ctx);
    rt_free(s);
    return ok;
}
