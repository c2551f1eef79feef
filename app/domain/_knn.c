/* The k most similar sales of a home, and what they move its estimate by: the compiled half of
 * app.domain.comps.
 *
 * Sales are points of four coordinates (km east, km north, size, time; see comps.points) held
 * in the order of a k-d tree: node 0 holds every point, node i's points [lo, hi) split at mid =
 * lo + (hi - lo) / 2 into node 2i + 1's [lo, mid), none of whose coordinates `dim[i]` is above
 * split[i], and node 2i + 2's [mid, hi), none below it. The nodes below the `nodes` inner ones
 * are leaves, each of at most `leaf` points. A home's neighbours are searched from its own
 * leaf outward, a subtree skipped when its box is farther than the k-th found: exact, and
 * denser towns cost no more than sparse ones.
 *
 * The points are either n * 4 doubles (a fit's search: shape = (leaf,)) or a market's packed
 * comps, n records of RECORD bytes (app.domain.comps_pack.RECORD: float32 degrees north and
 * east of the market's centre, size coordinate and residual, then the listing's fields, the
 * sale's month at MONTH as an int16 from the newest, 0 for an undated sale): shape = (leaf,
 * km_east, km_north, year_km, last_month), the point of a record being (east * km_east, north
 * * km_north, size, year_km / 12 * month).
 *
 * tree(points, leaf, order, split, dim, threads)
 *     the k-d tree of n * 4 doubles, which it puts in its order (in place): where each was
 *     into order (n int64), each inner node's split into split and dim (the `nodes` of
 *     comps.tree_nodes(n, leaf)), its subtrees built on `threads` threads (the same tree).
 * knn(points, split, dim, shape, queries, k, distance, position, threads[, allowed])
 *     queries: m * 4 doubles; writes the k nearest of each query (ascending distance, ties by
 *     position) into distance (m * k doubles) and position (m * k int64, positions in `points`),
 *     the queries shared among `threads` threads (the answers do not depend on how many);
 *     `allowed` (n bytes, in the tree's order): only the points whose byte is not 0 are found,
 *     and where fewer than k are, the rest are inf at position n.
 * shift(records, split, dim, shape, queries, k, shrink, out, total, threads)
 *     the weighted median residual of each query's k nearest sales (weight 1 / (1 + d^2)),
 *     times W / (W + shrink), W the query's total weight, into out (m doubles), and W into
 *     total (m doubles); as comps.shift.
 * shift_one(records, split, dim, shape, x, y, s, t, k, shrink) -> (shift, W)
 *     both for one home, without an array made.
 * knn_one(records, split, dim, shape, x, y, s, t, k) -> (distances, positions)
 *     the k nearest of one home, as two lists.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Every sum of products as written, never fused into one multiply-add (which a build for a CPU
 * with FMA would otherwise do): the answers are those of the same operations in Python and
 * numpy, on any x86-64 CPU and with any flags. */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#else
#pragma GCC optimize("fp-contract=off")
#endif

#define MAX_K 256
/* The packed record (comps_pack.RECORD): its size, and where its fields are. */
#define RECORD 36
#define NORTH 0
#define EAST 4
#define SIZE 8
#define RESIDUAL 12
#define MONTH 28
/* A subtree is searched unless its box is farther than the k-th found by more than this
 * share: the box's distance is summed in another order than a point's, so may round above. */
#define SLACK (1.0 + 1e-9)

typedef struct {
    const double *points; /* n * 4 doubles; or NULL for records, unless a batch unpacked them */
    const char *records;  /* n records, or NULL for points */
    const double *split;
    const uint8_t *dim;
    const uint8_t *allowed; /* n bytes: which points may be found; NULL for all */
    Py_ssize_t n, nodes, leaf;
    double km_east, km_north, per_month;
    long long last_month;
} Tree;

static float float_at(const char *record, int at) {
    float found;
    memcpy(&found, record + at, sizeof found);
    return found;
}

typedef struct {
    int count, k;
    double d2[MAX_K];
    int64_t at[MAX_K];
} Best;

/* The squared distance within which a sale may still be one of the k nearest. */
static inline double limit(const Best *best) { return best->count < best->k ? INFINITY : best->d2[best->k - 1]; }

static void offer(Best *best, double d2, int64_t at) {
    int i;
    if (best->count == best->k) {
        if (d2 > best->d2[best->k - 1] || (d2 == best->d2[best->k - 1] && at > best->at[best->k - 1]))
            return;
        i = best->k - 1;
    } else {
        i = best->count++;
    }
    /* Insertion: ascending squared distance, ties by position. */
    while (i > 0 && (best->d2[i - 1] > d2 || (best->d2[i - 1] == d2 && best->at[i - 1] > at))) {
        best->d2[i] = best->d2[i - 1];
        best->at[i] = best->at[i - 1];
        i--;
    }
    best->d2[i] = d2;
    best->at[i] = at;
}

/* The squared distance of the query from the sale at position p. */
static inline double distance2(const Tree *t, Py_ssize_t p, const double *q) {
    double a, b, u, v;
    if (t->points != NULL) {
        const double *s = t->points + 4 * p;
        a = s[0] - q[0], b = s[1] - q[1], u = s[2] - q[2], v = s[3] - q[3];
    } else {
        const char *record = t->records + RECORD * p;
        int16_t after_last;
        memcpy(&after_last, record + MONTH, sizeof after_last);
        a = (double)float_at(record, EAST) * t->km_east - q[0];
        b = (double)float_at(record, NORTH) * t->km_north - q[1];
        u = (double)float_at(record, SIZE) - q[2];
        v = t->per_month * (double)(t->last_month + after_last) - q[3];
    }
    return a * a + b * b + u * u + v * v;
}

static void scan_leaf(const Tree *t, Py_ssize_t lo, Py_ssize_t hi, const double *q, Best *best) {
    for (Py_ssize_t p = lo; p < hi; p++) {
        if (t->allowed != NULL && !t->allowed[p]) continue;
        double d2 = distance2(t, p, q);
        if (d2 <= limit(best)) offer(best, d2, p);
    }
}

/* The k nearest in node i's points [lo, hi), given that its box is `box` (squared) from the
 * query, `off` the query's distance to the box along each coordinate. */
static void descend(const Tree *t, Py_ssize_t i, Py_ssize_t lo, Py_ssize_t hi, const double *q, double box,
                    double *off, Best *best) {
    if (i >= t->nodes) {
        scan_leaf(t, lo, hi, q, best);
        return;
    }
    Py_ssize_t mid = lo + (hi - lo) / 2;
    int d = t->dim[i] & 3; /* (comps_pack.read refuses a pack of other coordinates) */
    double diff = q[d] - t->split[i];
    Py_ssize_t near = 2 * i + 1, far = 2 * i + 2, near_lo = lo, near_hi = mid, far_lo = mid, far_hi = hi;
    if (diff >= 0) {
        near = 2 * i + 2, far = 2 * i + 1;
        near_lo = mid, near_hi = hi, far_lo = lo, far_hi = mid;
    }
    descend(t, near, near_lo, near_hi, q, box, off, best);
    double was = off[d];
    double far_box = box - was * was + diff * diff;
    if (far_box <= limit(best) * SLACK) {
        off[d] = diff;
        descend(t, far, far_lo, far_hi, q, far_box, off, best);
        off[d] = was;
    }
}

static void search(const Tree *t, const double *q, Best *best) {
    double off[4] = {0.0, 0.0, 0.0, 0.0};
    best->count = 0;
    descend(t, 0, 0, t->n, q, 0.0, off, best);
}

/* The order to answer m queries in: leaf by leaf of the tree, so that queries one after the
 * other read the same sales from the cache (a batch's homes come in any order); NULL if it
 * cannot be held. Needs no GIL. */
static Py_ssize_t *leaf_order(const Tree *t, const double *q, Py_ssize_t m) {
    Py_ssize_t leaves = t->nodes + 1;
    Py_ssize_t *order = PyMem_RawMalloc((m + 1) * sizeof *order), *seen = PyMem_RawCalloc(leaves + 1, sizeof *seen);
    int32_t *leaf = PyMem_RawMalloc((m + 1) * sizeof *leaf);
    if (order == NULL || seen == NULL || leaf == NULL) {
        PyMem_RawFree(order);
        PyMem_RawFree(seen);
        PyMem_RawFree(leaf);
        return NULL;
    }
    for (Py_ssize_t r = 0; r < m; r++) {
        const double *point = q + 4 * r;
        Py_ssize_t i = 0;
        while (i < t->nodes) i = point[t->dim[i] & 3] - t->split[i] >= 0 ? 2 * i + 2 : 2 * i + 1;
        leaf[r] = (int32_t)(i - t->nodes);
        seen[leaf[r] + 1]++;
    }
    for (Py_ssize_t i = 0; i < leaves; i++) seen[i + 1] += seen[i];
    for (Py_ssize_t r = 0; r < m; r++) order[seen[leaf[r]]++] = r;
    PyMem_RawFree(seen);
    PyMem_RawFree(leaf);
    return order;
}

/* Whether a point can be searched: finite. */
static int searchable(const Tree *t, const double *q) {
    (void)t;
    for (int i = 0; i < 4; i++)
        if (!isfinite(q[i])) return 0;
    return 1;
}

/* The weighted median residual of k sales, shrunk; their total weight into *weight_total. */
static double median_shift(const char *records, const double *distance, const int64_t *at, int k,
                           double shrink, double *weight_total) {
    double value[MAX_K], weight[MAX_K];
    int order[MAX_K];
    for (int i = 0; i < k; i++) {
        double d = distance[i];
        weight[i] = isfinite(d) ? 1.0 / (1.0 + d * d) : 0.0;
        value[i] = weight[i] > 0 ? (double)float_at(records + RECORD * at[i], RESIDUAL) : 0.0;
        /* Stable insertion by value, as numpy's stable argsort. */
        int j = i;
        while (j > 0 && value[order[j - 1]] > value[i]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    double total = 0.0;
    for (int i = 0; i < k; i++) total += weight[order[i]];
    *weight_total = total;
    if (!(total > 0)) return 0.0;
    double half = 0.5 * total, running = 0.0, found = 0.0;
    for (int i = 0; i < k; i++) {
        running += weight[order[i]];
        if (running >= half) {
            found = value[order[i]];
            break;
        }
    }
    return found * (total / (total + shrink));
}

typedef struct {
    Py_buffer view;
    int held;
} Held;

static int hold(PyObject *obj, Held *h, int writable, Py_ssize_t item, const char *what) {
    if (PyObject_GetBuffer(obj, &h->view, PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0)) < 0)
        return -1;
    h->held = 1;
    if (h->view.len % item) {
        PyErr_Format(PyExc_ValueError, "%s does not hold whole items of %zd bytes", what, item);
        return -1;
    }
    return 0;
}

static void release(Held *h, int count) {
    for (int i = 0; i < count; i++)
        if (h[i].held) PyBuffer_Release(&h[i].view);
}

/* The inner nodes of the tree of n points with leaves of at most `leaf`: 2^depth - 1, the
 * depth the least at which every leaf holds at most `leaf` (as comps.tree_nodes). */
static Py_ssize_t nodes_of(Py_ssize_t n, Py_ssize_t leaf) {
    Py_ssize_t leaves = 1;
    while ((n + leaves - 1) / leaves > leaf) leaves *= 2;
    return leaves - 1;
}

/* The tree over held points (h[0]), splits (h[1]) and dims (h[2]) of `shape`: of points (1
 * item: the leaf) or of records (5, see the top); `packed`: 1 if it must be of records. */
static int tree_of(Tree *t, Held *h, PyObject *shape, int packed) {
    Py_ssize_t item;
    double year_km = 0.0;
    memset(t, 0, sizeof *t);
    if (PyTuple_Check(shape) && PyTuple_GET_SIZE(shape) == 5) {
        if (!PyArg_ParseTuple(shape, "ndddL", &t->leaf, &t->km_east, &t->km_north, &year_km, &t->last_month))
            return -1;
        t->per_month = year_km / 12.0;
        t->records = h[0].view.buf;
        item = RECORD;
    } else if (packed) {
        PyErr_SetString(PyExc_ValueError, "the tree must be of records: 5 items");
        return -1;
    } else {
        if (!PyArg_ParseTuple(shape, "n", &t->leaf)) return -1;
        t->points = h[0].view.buf;
        item = 4 * (Py_ssize_t)sizeof(double);
    }
    if (h[0].view.len % item) {
        PyErr_Format(PyExc_ValueError, "points do not hold whole items of %zd bytes", item);
        return -1;
    }
    t->n = h[0].view.len / item;
    t->split = h[1].view.buf;
    t->dim = h[2].view.buf;
    t->nodes = h[1].view.len / (Py_ssize_t)sizeof(double);
    if (t->leaf < 1 || t->nodes != nodes_of(t->n, t->leaf) || h[2].view.len != t->nodes) {
        PyErr_SetString(PyExc_ValueError, "the tree's nodes do not match its points and leaf");
        return -1;
    }
    return 0;
}

/* Holds points, split and dim (h[0..2]) and makes their tree: 0, or -1 with an exception set
 * (every view released). */
static int hold_tree(Held *h, PyObject *points, PyObject *split, PyObject *dim, PyObject *shape, int packed,
                     Tree *t) {
    if (hold(points, &h[0], 0, 1, "points") < 0 || hold(split, &h[1], 0, sizeof(double), "split") < 0 ||
        hold(dim, &h[2], 0, 1, "dim") < 0 || tree_of(t, h, shape, packed) < 0) {
        release(h, 3);
        return -1;
    }
    return 0;
}

static int check_k(int k, Py_ssize_t n) {
    if (k < 1 || k > MAX_K || k > n) {
        PyErr_Format(PyExc_ValueError, "k must be 1 to %d and at most the %zd sales, not %d", MAX_K, n, k);
        return -1;
    }
    return 0;
}

/* The first of the queries (held in q, m of them) that is not finite, or -1. Needs no GIL. */
static Py_ssize_t first_unsearchable(const Tree *t, const double *q, Py_ssize_t m) {
    for (Py_ssize_t r = 0; r < m; r++)
        if (!searchable(t, q + 4 * r)) return r;
    return -1;
}

/* The shift and total weight of one query's k nearest (`best`). */
static double shift_of(const Tree *t, const Best *best, double shrink, double *weight_total) {
    double distance[MAX_K];
    for (int i = 0; i < best->k; i++) distance[i] = sqrt(best->d2[i]);
    return median_shift(t->records, distance, best->at, best->k, shrink, weight_total);
}

/* A share of a batch's queries (positions from..to of their order), answered on one thread:
 * their k nearest into dist and pos, or (records) their shift and weight into out and total. */
typedef struct {
    const Tree *t;
    const double *q;
    const Py_ssize_t *order;
    Py_ssize_t from, to;
    int k;
    double shrink;
    double *dist, *out, *total;
    int64_t *pos;
} Share;

static void *answer_share(void *arg) {
    Share *s = arg;
    Best best;
    best.k = s->k;
    for (Py_ssize_t i = s->from; i < s->to; i++) {
        Py_ssize_t r = s->order[i];
        search(s->t, s->q + 4 * r, &best);
        if (s->out != NULL) {
            s->out[r] = shift_of(s->t, &best, s->shrink, s->total + r);
            continue;
        }
        for (int j = 0; j < s->k; j++) { /* fewer than k found (some not allowed): inf at n */
            s->dist[r * s->k + j] = j < best.count ? sqrt(best.d2[j]) : INFINITY;
            s->pos[r * s->k + j] = j < best.count ? best.at[j] : s->t->n;
        }
    }
    return NULL;
}

#define MAX_THREADS 16

/* The m queries of `share` answered on `threads` threads (at most MAX_THREADS), each a run of
 * consecutive leaves; a thread that cannot be started leaves its share to this one. Called
 * without the GIL. */
static void answer_all(const Share *share, Py_ssize_t m, int threads) {
    Share shares[MAX_THREADS];
    pthread_t ids[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    threads = threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads;
    for (int i = 0; i < threads; i++) {
        shares[i] = *share;
        shares[i].from = m * i / threads;
        shares[i].to = m * (i + 1) / threads;
    }
    for (int i = 1; i < threads; i++) started[i] = pthread_create(&ids[i], NULL, answer_share, &shares[i]) == 0;
    answer_share(&shares[0]);
    for (int i = 1; i < threads; i++) {
        if (started[i])
            pthread_join(ids[i], NULL);
        else
            answer_share(&shares[i]);
    }
}

/* A batch's queries (share->from .. share->to, all of them) checked, put in leaf order and
 * answered on `threads` threads, all without the GIL; the six views in h released either way.
 * A batch of records at least an eighth as many as its sales is answered from their points
 * unpacked once (the same doubles a record gives: the same answers, sooner). */
static PyObject *answer_batch(Held *h, int held, Share *share, int threads) {
    Py_ssize_t m = share->to, bad;
    Py_ssize_t *order = NULL;
    Tree unpacked = *share->t;
    double *points = NULL;
    Py_BEGIN_ALLOW_THREADS
    bad = first_unsearchable(share->t, share->q, m);
    if (bad < 0) order = leaf_order(share->t, share->q, m);
    if (order != NULL) {
        Py_ssize_t n = unpacked.n;
        if (unpacked.records != NULL && m >= n / 8 && (points = PyMem_RawMalloc((n + 1) * 4 * sizeof *points))) {
            for (Py_ssize_t p = 0; p < n; p++) {
                const char *record = unpacked.records + RECORD * p;
                int16_t after_last;
                memcpy(&after_last, record + MONTH, sizeof after_last);
                points[4 * p] = (double)float_at(record, EAST) * unpacked.km_east;
                points[4 * p + 1] = (double)float_at(record, NORTH) * unpacked.km_north;
                points[4 * p + 2] = (double)float_at(record, SIZE);
                points[4 * p + 3] = unpacked.per_month * (double)(unpacked.last_month + after_last);
            }
            unpacked.points = points;
            share->t = &unpacked;
        }
        share->order = order;
        answer_all(share, m, threads);
    }
    Py_END_ALLOW_THREADS
    PyMem_RawFree(points);
    PyMem_RawFree(order);
    release(h, held);
    if (bad >= 0) return PyErr_Format(PyExc_ValueError, "query %zd is not a finite point", bad);
    if (order == NULL) return PyErr_NoMemory();
    Py_RETURN_NONE;
}

static PyObject *knn(PyObject *self, PyObject *args) {
    PyObject *points, *split, *dim, *shape, *queries, *distance, *position, *allowed = Py_None;
    int k, threads;
    Held h[7] = {0};
    Tree t;
    if (!PyArg_ParseTuple(args, "OOOOOiOOi|O", &points, &split, &dim, &shape, &queries, &k, &distance, &position,
                          &threads, &allowed))
        return NULL;
    if (hold_tree(h, points, split, dim, shape, 0, &t) < 0) return NULL;
    int held = allowed == Py_None ? 6 : 7;
    if (hold(queries, &h[3], 0, 4 * sizeof(double), "queries") < 0 ||
        hold(distance, &h[4], 1, sizeof(double), "distance") < 0 ||
        hold(position, &h[5], 1, sizeof(int64_t), "position") < 0 ||
        (held == 7 && hold(allowed, &h[6], 0, 1, "allowed") < 0) || check_k(k, t.n) < 0) {
        release(h, held);
        return NULL;
    }
    Py_ssize_t m = h[3].view.len / (4 * sizeof(double));
    if (h[4].view.len != m * k * (Py_ssize_t)sizeof(double) || h[5].view.len != m * k * (Py_ssize_t)sizeof(int64_t)) {
        release(h, held);
        PyErr_SetString(PyExc_ValueError, "distance and position must hold k items a query");
        return NULL;
    }
    if (held == 7) {
        if (h[6].view.len != t.n) {
            release(h, held);
            PyErr_SetString(PyExc_ValueError, "allowed must hold one byte a point");
            return NULL;
        }
        t.allowed = h[6].view.buf;
    }
    Share share = {&t, h[3].view.buf, NULL, 0, m, k, 0.0, h[4].view.buf, NULL, NULL, h[5].view.buf};
    return answer_batch(h, held, &share, threads);
}

static PyObject *shift(PyObject *self, PyObject *args) {
    PyObject *records, *split, *dim, *shape, *queries, *out, *total;
    int k, threads;
    double shrink;
    Held h[6] = {0};
    Tree t;
    if (!PyArg_ParseTuple(args, "OOOOOidOOi", &records, &split, &dim, &shape, &queries, &k, &shrink, &out, &total,
                          &threads))
        return NULL;
    if (hold_tree(h, records, split, dim, shape, 1, &t) < 0) return NULL;
    if (hold(queries, &h[3], 0, 4 * sizeof(double), "queries") < 0 || hold(out, &h[4], 1, sizeof(double), "out") < 0 ||
        hold(total, &h[5], 1, sizeof(double), "total") < 0 || check_k(k, t.n) < 0) {
        release(h, 6);
        return NULL;
    }
    Py_ssize_t m = h[3].view.len / (4 * sizeof(double));
    if (h[4].view.len != m * (Py_ssize_t)sizeof(double) || h[5].view.len != h[4].view.len) {
        release(h, 6);
        PyErr_SetString(PyExc_ValueError, "out and total must hold one item a query");
        return NULL;
    }
    Share share = {&t, h[3].view.buf, NULL, 0, m, k, shrink, NULL, h[4].view.buf, h[5].view.buf, NULL};
    return answer_batch(h, 6, &share, threads);
}

/* One home's point checked against its tree: 0, or -1 with an exception set (views released). */
static int one_home(Held *h, const Tree *t, const double *q, int k) {
    if (check_k(k, t->n) < 0) {
        release(h, 3);
        return -1;
    }
    if (!searchable(t, q)) {
        release(h, 3);
        PyErr_SetString(PyExc_ValueError, "the home is not a finite point");
        return -1;
    }
    return 0;
}

static PyObject *shift_one(PyObject *self, PyObject *args) {
    PyObject *records, *split, *dim, *shape;
    double q[4], shrink;
    int k;
    Held h[3] = {0};
    Tree t;
    if (!PyArg_ParseTuple(args, "OOOOddddid", &records, &split, &dim, &shape, &q[0], &q[1], &q[2], &q[3], &k,
                          &shrink))
        return NULL;
    if (hold_tree(h, records, split, dim, shape, 1, &t) < 0 || one_home(h, &t, q, k) < 0) return NULL;
    Best best;
    best.k = k;
    search(&t, q, &best);
    double weight_total = 0.0;
    double found = shift_of(&t, &best, shrink, &weight_total);
    release(h, 3);
    return Py_BuildValue("(dd)", found, weight_total);
}

static PyObject *knn_one(PyObject *self, PyObject *args) {
    PyObject *records, *split, *dim, *shape;
    double q[4];
    int k;
    Held h[3] = {0};
    Tree t;
    if (!PyArg_ParseTuple(args, "OOOOddddi", &records, &split, &dim, &shape, &q[0], &q[1], &q[2], &q[3], &k))
        return NULL;
    if (hold_tree(h, records, split, dim, shape, 1, &t) < 0 || one_home(h, &t, q, k) < 0) return NULL;
    Best best;
    best.k = k;
    search(&t, q, &best);
    release(h, 3);
    PyObject *distance = PyList_New(k), *position = PyList_New(k);
    if (distance == NULL || position == NULL) goto fail;
    for (int i = 0; i < k; i++) {
        PyObject *d = PyFloat_FromDouble(sqrt(best.d2[i])), *p = PyLong_FromLongLong(best.at[i]);
        if (d == NULL || p == NULL) {
            Py_XDECREF(d);
            Py_XDECREF(p);
            goto fail;
        }
        PyList_SET_ITEM(distance, i, d);
        PyList_SET_ITEM(position, i, p);
    }
    return Py_BuildValue("(NN)", distance, position);
fail:
    Py_XDECREF(distance);
    Py_XDECREF(position);
    return NULL;
}

/* Building a tree: the points themselves (n * 4 doubles) partitioned in place, their
 * positions beside them, so that each level of the tree reads memory in order and nothing the
 * size of the points is held twice. */
typedef struct {
    double *points;
    int64_t *order;
    double *split;
    uint8_t *dim;
    Py_ssize_t nodes;
} Build;

#define AT(b, i, d) ((b)->points[4 * (i) + (d)])

static void swap_at(Build *b, Py_ssize_t i, Py_ssize_t j) {
    double kept[4];
    memcpy(kept, b->points + 4 * i, sizeof kept);
    memcpy(b->points + 4 * i, b->points + 4 * j, sizeof kept);
    memcpy(b->points + 4 * j, kept, sizeof kept);
    int64_t at = b->order[i];
    b->order[i] = b->order[j];
    b->order[j] = at;
}

/* Points [lo, hi) rearranged so that point mid is the one a sort by coordinate d would put
 * there, none before it above it and none after it below (Hoare's selection, the median of
 * three as pivot: deterministic). */
static void select_at(Build *b, Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t mid, int d) {
    Py_ssize_t left = lo, right = hi - 1;
    while (right > left) {
        Py_ssize_t centre = left + (right - left) / 2;
        if (AT(b, centre, d) < AT(b, left, d)) swap_at(b, centre, left);
        if (AT(b, right, d) < AT(b, left, d)) swap_at(b, right, left);
        if (AT(b, right, d) < AT(b, centre, d)) swap_at(b, right, centre);
        double pivot = AT(b, centre, d);
        Py_ssize_t i = left, j = right;
        while (i <= j) {
            while (AT(b, i, d) < pivot) i++;
            while (AT(b, j, d) > pivot) j--;
            if (i <= j) {
                swap_at(b, i, j);
                i++;
                j--;
            }
        }
        if (mid <= j)
            right = j;
        else if (mid >= i)
            left = i;
        else
            return;
    }
}

/* Inner node `node`'s points [lo, hi) split along their widest coordinate: where its second
 * half starts. */
static Py_ssize_t split_node(Build *b, Py_ssize_t node, Py_ssize_t lo, Py_ssize_t hi) {
    double low[4], high[4];
    /* The widest coordinate, of at most about 1,024 of the points, evenly spaced (it only
     * decides how well the tree prunes). */
    Py_ssize_t step = (hi - lo) / 1024 + 1;
    for (int d = 0; d < 4; d++) low[d] = high[d] = AT(b, lo, d);
    for (Py_ssize_t p = lo + step; p < hi; p += step) {
        for (int d = 0; d < 4; d++) {
            double c = AT(b, p, d);
            low[d] = c < low[d] ? c : low[d];
            high[d] = c > high[d] ? c : high[d];
        }
    }
    int widest = 0;
    for (int d = 1; d < 4; d++)
        if (high[d] - low[d] > high[widest] - low[widest]) widest = d;
    Py_ssize_t mid = lo + (hi - lo) / 2;
    select_at(b, lo, hi, mid, widest);
    b->dim[node] = (uint8_t)widest;
    b->split[node] = AT(b, mid, widest);
    return mid;
}

static void build(Build *b, Py_ssize_t node, Py_ssize_t lo, Py_ssize_t hi) {
    if (node >= b->nodes) return;
    Py_ssize_t mid = split_node(b, node, lo, hi);
    build(b, 2 * node + 1, lo, mid);
    build(b, 2 * node + 2, mid, hi);
}

/* A subtree to build on a thread of its own, on `threads` threads in all. */
typedef struct {
    Build *b;
    Py_ssize_t node, lo, hi;
    int threads;
} Subtree;

static void build_shared(Build *b, Py_ssize_t node, Py_ssize_t lo, Py_ssize_t hi, int threads);

static void *build_subtree(void *arg) {
    Subtree *s = arg;
    build_shared(s->b, s->node, s->lo, s->hi, s->threads);
    return NULL;
}

/* `build` on `threads` threads: a node's two subtrees are built at once (the same tree). */
static void build_shared(Build *b, Py_ssize_t node, Py_ssize_t lo, Py_ssize_t hi, int threads) {
    if (threads <= 1 || node >= b->nodes) {
        build(b, node, lo, hi);
        return;
    }
    Py_ssize_t mid = split_node(b, node, lo, hi);
    Subtree right = {b, 2 * node + 2, mid, hi, threads / 2};
    pthread_t id;
    int started = pthread_create(&id, NULL, build_subtree, &right) == 0;
    build_shared(b, 2 * node + 1, lo, mid, threads - threads / 2);
    if (started)
        pthread_join(id, NULL);
    else
        build_shared(b, 2 * node + 2, mid, hi, threads / 2);
}

static PyObject *tree(PyObject *self, PyObject *args) {
    PyObject *points, *order, *split, *dim;
    Py_ssize_t leaf;
    int threads;
    Held h[4] = {0};
    if (!PyArg_ParseTuple(args, "OnOOOi", &points, &leaf, &order, &split, &dim, &threads)) return NULL;
    if (hold(points, &h[0], 1, 4 * sizeof(double), "points") < 0 ||
        hold(order, &h[1], 1, sizeof(int64_t), "order") < 0 || hold(split, &h[2], 1, sizeof(double), "split") < 0 ||
        hold(dim, &h[3], 1, 1, "dim") < 0) {
        release(h, 4);
        return NULL;
    }
    Py_ssize_t n = h[0].view.len / (4 * sizeof(double));
    Build b = {h[0].view.buf, h[1].view.buf, h[2].view.buf, h[3].view.buf, 0};
    if (leaf < 1 || h[1].view.len != n * (Py_ssize_t)sizeof(int64_t)) {
        release(h, 4);
        PyErr_SetString(PyExc_ValueError, "the leaf must be at least 1, and order one item a point");
        return NULL;
    }
    b.nodes = nodes_of(n, leaf);
    if (h[2].view.len != b.nodes * (Py_ssize_t)sizeof(double) || h[3].view.len != b.nodes) {
        release(h, 4);
        PyErr_SetString(PyExc_ValueError, "split and dim must hold one item an inner node");
        return NULL;
    }
    for (Py_ssize_t p = 0; p < n * 4; p++) {
        if (!isfinite(b.points[p])) {
            release(h, 4);
            PyErr_Format(PyExc_ValueError, "point %zd is not finite", p / 4);
            return NULL;
        }
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t p = 0; p < n; p++) b.order[p] = p;
    build_shared(&b, 0, 0, n, threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads);
    Py_END_ALLOW_THREADS
    release(h, 4);
    Py_RETURN_NONE;
}

/* One located home's log price after each term of its model, as app.domain.located_model's
 * `home_terms` and `explain_home` take them, by the same floating-point operations in the same
 * order, for located_one's quick path.
 *
 * located(intercept, size, centre, projection, scales, months, comps, spread, spread_unplaced)
 *     a capsule of a model's constants: size (4 floats), centre (3), projection None or
 *     (longitude, km east a degree, latitude, km north a degree, the offset of a cell's index
 *     in its key: app.domain.terms.OFFSET), scales a tuple of (cell size, base, offsets,
 *     effects) (offsets 4- or 8-byte unsigned/signed keys less base, effects float64),
 *     months (first, last, effects tuple), comps None or (records, split, dim, shape, k,
 *     shrink, size_km, year_km), each spread None or (centre, factor).
 * located_logs(capsule, beds, baths, log_sqft, area_effect, latitude, longitude, month, out)
 *     writes the home's cumulative log prices into out (7 doubles, then the comps' and the
 *     spread's where the model has them) and returns the comps' total weight; None where the
 *     home has coordinates whose fine cell holds no sale (a warning may be due). An out of 7
 *     doubles takes the terms alone (`home_terms`'s), and the answer is 0.0.
 */

#define MAX_SCALES 4

typedef struct {
    double intercept, size[4], centre[3];
    int projected;
    double longitude, km_east, latitude, km_north;
    long long cell_offset;
    int scales;
    double cell[MAX_SCALES];
    long long base[MAX_SCALES];
    Held keys[MAX_SCALES], effects[MAX_SCALES];
    long long first_month, last_month;
    Py_ssize_t months;
    double *month_effects;
    int comps, k;
    Held tree[3];
    Tree t;
    double shrink, size_km, year_km;
    int spread, spread_unplaced;
    double spread_centre, spread_factor, unplaced_centre, unplaced_factor;
} Located;

/* Lets go of what a (whole or half made) Located holds, and of it. */
static void located_clear(Located *m) {
    release(m->keys, MAX_SCALES);
    release(m->effects, MAX_SCALES);
    release(m->tree, 3);
    PyMem_Free(m->month_effects);
    PyMem_Free(m);
}

static void located_free(PyObject *capsule) {
    Located *m = PyCapsule_GetPointer(capsule, "located");
    if (m != NULL) located_clear(m);
}

static int doubles_of(PyObject *tuple, double *out, Py_ssize_t n, const char *what) {
    if (!PyTuple_Check(tuple) || PyTuple_GET_SIZE(tuple) != n) {
        PyErr_Format(PyExc_ValueError, "%s must be a tuple of %zd floats", what, n);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        out[i] = PyFloat_AsDouble(PyTuple_GET_ITEM(tuple, i));
        if (out[i] == -1.0 && PyErr_Occurred()) return -1;
    }
    return 0;
}

static int located_spread(PyObject *given, int *has, double *centre, double *factor) {
    double pair[2];
    *has = given != Py_None;
    if (!*has) return 0;
    if (doubles_of(given, pair, 2, "a spread") < 0) return -1;
    *centre = pair[0], *factor = pair[1];
    return 0;
}

static PyObject *located(PyObject *self, PyObject *args) {
    PyObject *size, *centre, *projection, *scales, *months, *comps, *spread, *unplaced;
    Located *m = PyMem_Calloc(1, sizeof *m);
    if (m == NULL) return PyErr_NoMemory();
    if (!PyArg_ParseTuple(args, "dOOOOOOOO", &m->intercept, &size, &centre, &projection, &scales, &months, &comps,
                          &spread, &unplaced))
        goto fail;
    if (doubles_of(size, m->size, 4, "size") < 0 || doubles_of(centre, m->centre, 3, "centre") < 0) goto fail;
    m->projected = projection != Py_None;
    if (m->projected && !PyArg_ParseTuple(projection, "ddddL", &m->longitude, &m->km_east, &m->latitude,
                                          &m->km_north, &m->cell_offset))
        goto fail;
    if (!PyTuple_Check(scales) || PyTuple_GET_SIZE(scales) > MAX_SCALES) {
        PyErr_SetString(PyExc_ValueError, "scales must be a tuple of at most 4");
        goto fail;
    }
    m->scales = (int)PyTuple_GET_SIZE(scales);
    for (int i = 0; i < m->scales; i++) {
        PyObject *keys, *effects;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(scales, i), "dLOO", &m->cell[i], &m->base[i], &keys, &effects) ||
            PyObject_GetBuffer(keys, &m->keys[i].view, PyBUF_C_CONTIGUOUS) < 0)
            goto fail;
        m->keys[i].held = 1;
        if (hold(effects, &m->effects[i], 0, sizeof(double), "effects") < 0) goto fail;
        Py_ssize_t width = m->keys[i].view.itemsize;
        if ((width != 4 && width != 8) || m->keys[i].view.len % width ||
            m->effects[i].view.len / (Py_ssize_t)sizeof(double) != m->keys[i].view.len / width) {
            PyErr_SetString(PyExc_ValueError, "a scale's keys and effects do not match");
            goto fail;
        }
    }
    PyObject *effects;
    if (!PyArg_ParseTuple(months, "LLO", &m->first_month, &m->last_month, &effects)) goto fail;
    if (!PyTuple_Check(effects) || (m->first_month >= 0 && PyTuple_GET_SIZE(effects) == 0)) {
        PyErr_SetString(PyExc_ValueError, "the month effects must be a tuple, of one or more when dated");
        goto fail;
    }
    m->months = PyTuple_GET_SIZE(effects);
    m->month_effects = PyMem_Malloc((m->months + 1) * sizeof(double));
    if (m->month_effects == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    if (doubles_of(effects, m->month_effects, m->months, "the month effects") < 0) goto fail;
    m->comps = comps != Py_None;
    if (m->comps) {
        PyObject *records, *split, *dim, *shape;
        if (!PyArg_ParseTuple(comps, "OOOOiddd", &records, &split, &dim, &shape, &m->k, &m->shrink, &m->size_km,
                              &m->year_km) ||
            hold_tree(m->tree, records, split, dim, shape, 1, &m->t) < 0 || check_k(m->k, m->t.n) < 0)
            goto fail;
    }
    if (located_spread(spread, &m->spread, &m->spread_centre, &m->spread_factor) < 0 ||
        located_spread(unplaced, &m->spread_unplaced, &m->unplaced_centre, &m->unplaced_factor) < 0)
        goto fail;
    PyObject *capsule = PyCapsule_New(m, "located", located_free);
    if (capsule == NULL) goto fail;
    return capsule;
fail:
    located_clear(m);
    return NULL;
}

/* The position of `key` among a scale's sorted keys (as bisect and `KeyOffsets.position`), or -1. */
static Py_ssize_t cell_position(const Located *m, int i, long long key) {
    const Py_buffer *keys = &m->keys[i].view;
    long long offset = key - m->base[i];
    Py_ssize_t lo = 0, hi = keys->len / keys->itemsize;
    if (keys->itemsize == 4) {
        const uint32_t *at = keys->buf;
        if (offset < 0 || offset > (long long)UINT32_MAX) return -1;
        while (lo < hi) {
            Py_ssize_t mid = lo + (hi - lo) / 2;
            if ((long long)at[mid] < offset) lo = mid + 1;
            else hi = mid;
        }
        return lo < keys->len / 4 && (long long)at[lo] == offset ? lo : -1;
    }
    const int64_t *at = keys->buf;
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (at[mid] < offset) lo = mid + 1;
        else hi = mid;
    }
    return lo < keys->len / 8 && at[lo] == offset ? lo : -1;
}

/* A cell index as Python's math.floor gives it, and whether it is one a key can hold. */
static int cell_index(double v, long long *index) {
    double f = floor(v);
    if (!(fabs(f) < 1e12)) return 0;
    *index = (long long)f;
    return 1;
}

static PyObject *located_logs(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 9) {
        PyErr_SetString(PyExc_TypeError, "located_logs takes 9 arguments");
        return NULL;
    }
    const Located *m = PyCapsule_GetPointer(args[0], "located");
    if (m == NULL) return NULL;
    double given[6];
    for (int i = 0; i < 6; i++) {
        given[i] = PyFloat_AsDouble(args[i + 1]);
        if (given[i] == -1.0 && PyErr_Occurred()) return NULL;
    }
    double beds = given[0], baths = given[1], log_sqft = given[2], area = given[3], latitude = given[4],
           longitude = given[5];
    long long month = PyLong_AsLongLong(args[7]);
    if (month == -1 && PyErr_Occurred()) return NULL;
    Py_buffer out;
    if (PyObject_GetBuffer(args[8], &out, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) < 0) return NULL;
    Py_ssize_t width = 7 + m->comps + m->spread;
    int terms_only = out.len == 7 * (Py_ssize_t)sizeof(double);
    if (!terms_only && out.len != width * (Py_ssize_t)sizeof(double)) {
        PyBuffer_Release(&out);
        PyErr_Format(PyExc_ValueError, "out must hold %zd doubles", width);
        return NULL;
    }
    double *c = out.buf;
    const double *w = m->size, *centre = m->centre;
    c[0] = m->intercept;
    c[1] = c[0] + w[0] * (beds - centre[0]);
    c[2] = c[1] + w[1] * (baths - centre[1]);
    double s = log_sqft - centre[2];
    c[3] = c[2] + (w[2] * s + w[3] * (s * s));
    c[4] = c[3] + area;
    double location = 0.0, x = NAN, y = NAN;
    int placed = latitude == latitude && longitude == longitude, fine = 0;
    if (m->projected && placed) {
        x = (longitude - m->longitude) * m->km_east;
        y = (latitude - m->latitude) * m->km_north;
        for (int i = 0; i < m->scales; i++) {
            long long ix, iy;
            Py_ssize_t at = -1;
            if (cell_index(x / m->cell[i], &ix) && cell_index(y / m->cell[i], &iy))
                at = cell_position(m, i,
                                   (long long)((unsigned long long)(ix + m->cell_offset) << 21) | (iy + m->cell_offset));
            fine = at >= 0;
            if (fine) {
                double effect;
                memcpy(&effect, (const char *)m->effects[i].view.buf + 8 * at, sizeof effect);
                location += effect;
            }
        }
    }
    c[5] = c[4] + location;
    double time = 0.0;
    if (m->first_month >= 0) {
        long long at = (month >= 0 ? month : m->last_month) - m->first_month;
        at = at > 0 ? at : 0;
        time = m->month_effects[at < m->months - 1 ? at : m->months - 1];
    }
    c[6] = c[5] + time;
    if (terms_only) {
        PyBuffer_Release(&out);
        return PyFloat_FromDouble(0.0);
    }
    if (m->projected && placed && !fine) {
        PyBuffer_Release(&out);
        Py_RETURN_NONE;
    }
    Py_ssize_t n = 7;
    double weight = 0.0;
    if (m->comps) {
        double moved = 0.0;
        if (x == x) {
            long long valued = month >= 0 && m->first_month >= 0 ? month : m->last_month;
            double q[4] = {x, y, m->size_km * log_sqft, m->year_km * (double)valued / 12.0};
            if (!searchable(&m->t, q)) {
                PyBuffer_Release(&out);
                PyErr_SetString(PyExc_ValueError, "the home is not a finite point");
                return NULL;
            }
            Best best;
            best.k = m->k;
            search(&m->t, q, &best);
            moved = shift_of(&m->t, &best, m->shrink, &weight);
        }
        c[n] = c[6] + moved;
        n++;
    }
    if (m->spread) {
        double centre_log = m->spread_centre, factor = m->spread_factor;
        if (m->spread_unplaced && !placed) centre_log = m->unplaced_centre, factor = m->unplaced_factor;
        c[n] = centre_log + factor * (c[n - 1] - centre_log);
    }
    PyBuffer_Release(&out);
    return PyFloat_FromDouble(weight);
}

static PyMethodDef methods[] = {
    {"tree", tree, METH_VARARGS, "The k-d tree of points: their order, and each inner node's split."},
    {"knn_one", knn_one, METH_VARARGS, "The k nearest sales of one home, as two lists."},
    {"knn", knn, METH_VARARGS, "The k nearest sales of each query, by a k-d tree."},
    {"shift", shift, METH_VARARGS, "What each query's k nearest sales move its estimate by."},
    {"shift_one", shift_one, METH_VARARGS, "knn and shift of one home."},
    {"located", located, METH_VARARGS, "A located model's constants, for located_logs."},
    {"located_logs", (PyCFunction)(void (*)(void))located_logs, METH_FASTCALL,
     "One home's cumulative log prices, and its comps' total weight."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_knn", "Comparable sales by a k-d tree.", -1, methods};

PyMODINIT_FUNC PyInit__knn(void) { return PyModule_Create(&module); }
