/* The k most similar sales of a home, and what they move its estimate by: the compiled half of
 * app.domain.comps.
 *
 * Sales are points of four coordinates (km east, km north, size, time; see comps.points),
 * bucketed in a grid of square cells over the first two and stored cell by cell. A home's
 * neighbours are searched ring by ring of cells around its own, until no unseen cell can hold a
 * nearer sale than the k-th found: exact, as a k-d tree, at a tenth of a Python call's cost.
 *
 * The points are either n * 4 doubles (a fit's search: grid = (x0, y0, cell, nx, ny)) or a
 * market's packed comps, n records of RECORD bytes (app.domain.comps_pack.RECORD: float32
 * degrees north and east of the market's centre, size coordinate and residual, then the
 * listing's fields, the sale's month at MONTH as an int16 from the newest, 0 for an undated
 * sale): grid = (x0, y0, cell, nx, ny, km_east, km_north, year_km, last_month), the point of a
 * record being (east * km_east, north * km_north, size, year_km / 12 * month).
 *
 * knn(points, starts, grid, queries, k, distance, position)
 *     starts: (nx * ny + 1) int64, where each cell's points start; queries: m * 4 doubles;
 *     writes the k nearest of each query (ascending distance, ties by position) into distance
 *     (m * k doubles) and position (m * k int64, positions in `points`).
 * shift(records, distance, position, k, shrink, out, total)
 *     the weighted median residual of each row's k sales (weight 1 / (1 + d^2)), times
 *     W / (W + shrink), W the row's total weight, into out (m doubles), and W into total
 *     (m doubles); as comps.shift.
 * shift_one(records, starts, grid, x, y, s, t, k, shrink) -> (shift, W)
 *     both for one home, without an array made.
 * knn_one(records, starts, grid, x, y, s, t, k) -> (distances, positions)
 *     the k nearest of one home, as two lists.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define MAX_K 256
/* The packed record (comps_pack.RECORD): its size, and where its fields are. */
#define RECORD 36
#define NORTH 0
#define EAST 4
#define SIZE 8
#define RESIDUAL 12
#define MONTH 28

typedef struct {
    const double *points; /* n * 4 doubles, or NULL for records */
    const char *records;  /* n records, or NULL for points */
    const int64_t *starts;
    Py_ssize_t n;
    double x0, y0, cell;
    Py_ssize_t nx, ny;
    double km_east, km_north, year_km;
    long long last_month;
} Grid;

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

static void scan_cell(const Grid *g, Py_ssize_t i, Py_ssize_t j, const double *q, Best *best) {
    Py_ssize_t c = j * g->nx + i;
    if (g->records != NULL) {
        const double ke = g->km_east, kn = g->km_north, per_month = g->year_km / 12.0;
        const long long last = g->last_month;
        for (int64_t p = g->starts[c]; p < g->starts[c + 1]; p++) {
            const char *record = g->records + RECORD * p;
            int16_t after_last;
            memcpy(&after_last, record + MONTH, sizeof after_last);
            double a = (double)float_at(record, EAST) * ke - q[0];
            double b = (double)float_at(record, NORTH) * kn - q[1];
            double u = (double)float_at(record, SIZE) - q[2];
            double v = per_month * (double)(last + after_last) - q[3];
            offer(best, a * a + b * b + u * u + v * v, p);
        }
        return;
    }
    for (int64_t p = g->starts[c]; p < g->starts[c + 1]; p++) {
        const double *s = g->points + 4 * p;
        double a = s[0] - q[0], b = s[1] - q[1], u = s[2] - q[2], v = s[3] - q[3];
        offer(best, a * a + b * b + u * u + v * v, p);
    }
}

static Py_ssize_t max_n(Py_ssize_t a, Py_ssize_t b) { return a > b ? a : b; }
static Py_ssize_t min_n(Py_ssize_t a, Py_ssize_t b) { return a < b ? a : b; }

/* The k nearest sales of a point with finite coordinates (its first two within the range a
 * Py_ssize_t holds, in cells). Rings of cells around the point's own cell are searched from
 * the first that touches the grid, each clipped to the grid. */
static void search(const Grid *g, const double *q, Best *best) {
    Py_ssize_t cx = (Py_ssize_t)floor((q[0] - g->x0) / g->cell);
    Py_ssize_t cy = (Py_ssize_t)floor((q[1] - g->y0) / g->cell);
    Py_ssize_t first = max_n(max_n(-cx, cx - (g->nx - 1)), max_n(-cy, cy - (g->ny - 1)));
    best->count = 0;
    for (Py_ssize_t r = max_n(first, 0);; r++) {
        Py_ssize_t lo_i = cx - r, hi_i = cx + r, lo_j = cy - r, hi_j = cy + r;
        Py_ssize_t from_i = max_n(lo_i, 0), to_i = min_n(hi_i, g->nx - 1);
        for (Py_ssize_t j = max_n(lo_j, 0); j <= min_n(hi_j, g->ny - 1); j++) {
            if (j == lo_j || j == hi_j) {
                for (Py_ssize_t i = from_i; i <= to_i; i++) scan_cell(g, i, j, q, best);
            } else {
                if (lo_i >= 0) scan_cell(g, lo_i, j, q, best);
                if (hi_i < g->nx && hi_i != lo_i) scan_cell(g, hi_i, j, q, best);
            }
        }
        if (lo_i <= 0 && hi_i >= g->nx - 1 && lo_j <= 0 && hi_j >= g->ny - 1) return; /* all seen */
        if (best->count == best->k) {
            /* No sale outside the square of cells seen is nearer than its edge. */
            double left = q[0] - (g->x0 + lo_i * g->cell), right = g->x0 + (hi_i + 1) * g->cell - q[0];
            double down = q[1] - (g->y0 + lo_j * g->cell), up = g->y0 + (hi_j + 1) * g->cell - q[1];
            double edge = fmin(fmin(left, right), fmin(down, up));
            if (best->d2[best->k - 1] <= edge * edge) return;
        }
    }
}

/* Whether a point can be searched: finite, and within 10^12 cells of the grid. */
static int searchable(const Grid *g, const double *q) {
    for (int i = 0; i < 4; i++)
        if (!isfinite(q[i])) return 0;
    return fabs((q[0] - g->x0) / g->cell) < 1e12 && fabs((q[1] - g->y0) / g->cell) < 1e12;
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

/* The grid of `shape`: of points (5 items) or of records (9, see the top); `packed`: 1 if it
 * must be of records, 0 either. */
static int grid_of(Grid *g, Held *points, Held *starts, PyObject *shape, int packed) {
    Py_ssize_t item;
    memset(g, 0, sizeof *g);
    if (PyTuple_Check(shape) && PyTuple_GET_SIZE(shape) == 9) {
        if (!PyArg_ParseTuple(shape, "dddnndddL", &g->x0, &g->y0, &g->cell, &g->nx, &g->ny, &g->km_east,
                              &g->km_north, &g->year_km, &g->last_month))
            return -1;
        g->records = points->view.buf;
        item = RECORD;
    } else if (packed) {
        PyErr_SetString(PyExc_ValueError, "the grid must be of records: 9 items");
        return -1;
    } else {
        if (!PyArg_ParseTuple(shape, "dddnn", &g->x0, &g->y0, &g->cell, &g->nx, &g->ny)) return -1;
        g->points = points->view.buf;
        item = 4 * (Py_ssize_t)sizeof(double);
    }
    if (points->view.len % item) {
        PyErr_Format(PyExc_ValueError, "points do not hold whole items of %zd bytes", item);
        return -1;
    }
    g->n = points->view.len / item;
    g->starts = starts->view.buf;
    if (starts->view.len / (Py_ssize_t)sizeof(int64_t) != g->nx * g->ny + 1 || !(g->cell > 0)) {
        PyErr_SetString(PyExc_ValueError, "the grid's starts do not match its shape");
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

static PyObject *knn(PyObject *self, PyObject *args) {
    PyObject *points, *starts, *shape, *queries, *distance, *position;
    int k;
    Held h[5] = {0};
    Grid g;
    if (!PyArg_ParseTuple(args, "OOOOiOO", &points, &starts, &shape, &queries, &k, &distance, &position))
        return NULL;
    if (hold(points, &h[0], 0, 1, "points") < 0 || hold(starts, &h[1], 0, sizeof(int64_t), "starts") < 0 ||
        hold(queries, &h[2], 0, 4 * sizeof(double), "queries") < 0 ||
        hold(distance, &h[3], 1, sizeof(double), "distance") < 0 ||
        hold(position, &h[4], 1, sizeof(int64_t), "position") < 0 || grid_of(&g, &h[0], &h[1], shape, 0) < 0 ||
        check_k(k, g.n) < 0) {
        release(h, 5);
        return NULL;
    }
    Py_ssize_t m = h[2].view.len / (4 * sizeof(double));
    if (h[3].view.len != m * k * (Py_ssize_t)sizeof(double) || h[4].view.len != m * k * (Py_ssize_t)sizeof(int64_t)) {
        release(h, 5);
        PyErr_SetString(PyExc_ValueError, "distance and position must hold k items a query");
        return NULL;
    }
    const double *q = h[2].view.buf;
    double *dist = h[3].view.buf;
    int64_t *pos = h[4].view.buf;
    for (Py_ssize_t r = 0; r < m; r++) {
        if (!searchable(&g, q + 4 * r)) {
            release(h, 5);
            PyErr_Format(PyExc_ValueError, "query %zd is not a finite point near the sales", r);
            return NULL;
        }
    }
    Best best;
    best.k = k;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t r = 0; r < m; r++) {
        search(&g, q + 4 * r, &best);
        for (int i = 0; i < k; i++) {
            dist[r * k + i] = sqrt(best.d2[i]);
            pos[r * k + i] = best.at[i];
        }
    }
    Py_END_ALLOW_THREADS
    release(h, 5);
    Py_RETURN_NONE;
}

static PyObject *shift(PyObject *self, PyObject *args) {
    PyObject *records, *distance, *position, *out, *total;
    int k;
    double shrink;
    Held h[5] = {0};
    if (!PyArg_ParseTuple(args, "OOOidOO", &records, &distance, &position, &k, &shrink, &out, &total)) return NULL;
    if (hold(records, &h[0], 0, RECORD, "records") < 0 || hold(distance, &h[1], 0, sizeof(double), "distance") < 0 ||
        hold(position, &h[2], 0, sizeof(int64_t), "position") < 0 || hold(out, &h[3], 1, sizeof(double), "out") < 0 ||
        hold(total, &h[4], 1, sizeof(double), "total") < 0) {
        release(h, 5);
        return NULL;
    }
    Py_ssize_t n = h[0].view.len / RECORD;
    Py_ssize_t m = h[3].view.len / (Py_ssize_t)sizeof(double);
    if (k < 1 || k > MAX_K || h[1].view.len != m * k * (Py_ssize_t)sizeof(double) ||
        h[2].view.len != m * k * (Py_ssize_t)sizeof(int64_t) || h[4].view.len != h[3].view.len) {
        release(h, 5);
        PyErr_SetString(PyExc_ValueError, "distance and position must hold k items a row of out");
        return NULL;
    }
    const int64_t *pos = h[2].view.buf;
    for (Py_ssize_t i = 0; i < m * k; i++) {
        if (pos[i] < 0 || pos[i] >= n) {
            release(h, 5);
            PyErr_SetString(PyExc_IndexError, "a position outside the records");
            return NULL;
        }
    }
    const char *rec = h[0].view.buf;
    const double *dist = h[1].view.buf;
    double *o = h[3].view.buf, *w = h[4].view.buf;
    for (Py_ssize_t r = 0; r < m; r++) o[r] = median_shift(rec, dist + r * k, pos + r * k, k, shrink, w + r);
    release(h, 5);
    Py_RETURN_NONE;
}

/* The records, starts and grid of a packed market, and one home's point: 0, or -1 with an
 * exception set (every view released). */
static int one_home(Held *h, PyObject *records, PyObject *starts, PyObject *shape, const double *q, int k, Grid *g) {
    if (hold(records, &h[0], 0, 1, "records") < 0 || hold(starts, &h[1], 0, sizeof(int64_t), "starts") < 0 ||
        grid_of(g, &h[0], &h[1], shape, 1) < 0 || check_k(k, g->n) < 0) {
        release(h, 2);
        return -1;
    }
    if (!searchable(g, q)) {
        release(h, 2);
        PyErr_SetString(PyExc_ValueError, "the home is not a finite point near the sales");
        return -1;
    }
    return 0;
}

static PyObject *shift_one(PyObject *self, PyObject *args) {
    PyObject *records, *starts, *shape;
    double q[4], shrink;
    int k;
    Held h[2] = {0};
    Grid g;
    if (!PyArg_ParseTuple(args, "OOOddddid", &records, &starts, &shape, &q[0], &q[1], &q[2], &q[3], &k, &shrink))
        return NULL;
    if (one_home(h, records, starts, shape, q, k, &g) < 0) return NULL;
    Best best;
    double distance[MAX_K];
    best.k = k;
    search(&g, q, &best);
    for (int i = 0; i < k; i++) distance[i] = sqrt(best.d2[i]);
    double weight_total = 0.0;
    double found = median_shift(g.records, distance, best.at, k, shrink, &weight_total);
    release(h, 2);
    return Py_BuildValue("(dd)", found, weight_total);
}

static PyObject *knn_one(PyObject *self, PyObject *args) {
    PyObject *records, *starts, *shape;
    double q[4];
    int k;
    Held h[2] = {0};
    Grid g;
    if (!PyArg_ParseTuple(args, "OOOddddi", &records, &starts, &shape, &q[0], &q[1], &q[2], &q[3], &k)) return NULL;
    if (one_home(h, records, starts, shape, q, k, &g) < 0) return NULL;
    Best best;
    best.k = k;
    search(&g, q, &best);
    release(h, 2);
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

static PyMethodDef methods[] = {
    {"knn_one", knn_one, METH_VARARGS, "The k nearest sales of one home, as two lists."},
    {"knn", knn, METH_VARARGS, "The k nearest sales of each query, by a grid of cells."},
    {"shift", shift, METH_VARARGS, "Each row's weighted median residual, shrunk."},
    {"shift_one", shift_one, METH_VARARGS, "knn and shift of one home."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_knn", "Comparable sales by a grid of cells.", -1,
                                    methods};

PyMODINIT_FUNC PyInit__knn(void) { return PyModule_Create(&module); }
