/* Rows of text put together from columns in one pass: the compiled half of app.api.rows.
 *
 * interleave(pieces, columns, rows, sep, before, after) -> bytes
 *
 * Row i is pieces[0] + columns[0][i] + pieces[1] + ... + columns[k-1][i] + pieces[k]; the rows
 * are joined by `sep`, and the whole is put between `before` and `after`. A column is either a
 * list of `rows` bytes objects, or one bytes object holding `rows` fields separated by commas
 * (the inside of an orjson array of numbers), or a tuple (text, separator) of `rows` fields
 * separated by that one byte (a CSV body's lines, by b"\n"). The answer is sized first and
 * written once.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

typedef struct {
    PyObject *list;   /* a list of bytes, or NULL */
    const char *text; /* fields separated by `delim`, when list is NULL */
    Py_ssize_t size;
    char delim;
} Column;

static int bytes_view(PyObject *obj, const char **data, Py_ssize_t *size, const char *what) {
    if (!PyBytes_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be bytes, not %.80s", what, Py_TYPE(obj)->tp_name);
        return -1;
    }
    *data = PyBytes_AS_STRING(obj);
    *size = PyBytes_GET_SIZE(obj);
    return 0;
}

/* The bytes a column adds to the answer; -1 with an exception when it does not hold `rows`. */
static Py_ssize_t column_size(Column *column, PyObject *obj, Py_ssize_t rows, Py_ssize_t k) {
    if (PyList_Check(obj)) {
        if (PyList_GET_SIZE(obj) != rows) {
            PyErr_Format(PyExc_ValueError, "column %zd holds %zd rows, not %zd", k,
                         PyList_GET_SIZE(obj), rows);
            return -1;
        }
        Py_ssize_t total = 0;
        for (Py_ssize_t i = 0; i < rows; i++) {
            PyObject *item = PyList_GET_ITEM(obj, i);
            if (!PyBytes_Check(item)) {
                PyErr_Format(PyExc_TypeError, "column %zd, row %zd must be bytes", k, i);
                return -1;
            }
            total += PyBytes_GET_SIZE(item);
        }
        column->list = obj;
        column->text = NULL;
        column->size = total;
        return total;
    }
    const char *text, *delim = ",";
    Py_ssize_t size, delim_size = 1;
    if (PyTuple_Check(obj)) {
        if (PyTuple_GET_SIZE(obj) != 2 ||
            bytes_view(PyTuple_GET_ITEM(obj, 1), &delim, &delim_size, "a separator") < 0 ||
            delim_size != 1) {
            if (!PyErr_Occurred()) {
                PyErr_Format(PyExc_ValueError, "column %zd must be (text, one byte)", k);
            }
            return -1;
        }
        obj = PyTuple_GET_ITEM(obj, 0);
    }
    if (bytes_view(obj, &text, &size, "a column") < 0) {
        return -1;
    }
    Py_ssize_t fields = size == 0 ? 0 : 1;
    for (const char *p = text, *end = text + size; (p = memchr(p, *delim, end - p)) != NULL; p++) {
        fields++;
    }
    if (fields != rows) {
        PyErr_Format(PyExc_ValueError, "column %zd holds %zd fields, not %zd", k, fields, rows);
        return -1;
    }
    column->list = NULL;
    column->text = text;
    column->size = size;
    column->delim = *delim;
    return rows == 0 ? 0 : size - (rows - 1);
}

static PyObject *interleave(PyObject *self, PyObject *args) {
    PyObject *pieces_obj, *columns_obj, *sep_obj, *before_obj, *after_obj;
    Py_ssize_t rows;
    if (!PyArg_ParseTuple(args, "O!O!nSSS:interleave", &PyList_Type, &pieces_obj, &PyList_Type,
                          &columns_obj, &rows, &sep_obj, &before_obj, &after_obj)) {
        return NULL;
    }
    Py_ssize_t k = PyList_GET_SIZE(columns_obj);
    if (PyList_GET_SIZE(pieces_obj) != k + 1) {
        return PyErr_Format(PyExc_ValueError, "%zd columns need %zd pieces, not %zd", k, k + 1,
                            PyList_GET_SIZE(pieces_obj));
    }
    if (rows < 0) {
        return PyErr_Format(PyExc_ValueError, "rows must be at least 0, not %zd", rows);
    }
    const char *sep, *before, *after;
    Py_ssize_t sep_size, before_size, after_size;
    bytes_view(sep_obj, &sep, &sep_size, "sep");
    bytes_view(before_obj, &before, &before_size, "before");
    bytes_view(after_obj, &after, &after_size, "after");

    const char **piece = PyMem_Malloc((k + 1) * sizeof(char *));
    Py_ssize_t *piece_size = PyMem_Malloc((k + 1) * sizeof(Py_ssize_t));
    Column *column = PyMem_Malloc((k + 1) * sizeof(Column));
    PyObject *answer = NULL;
    if (piece == NULL || piece_size == NULL || column == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t per_row = 0;
    for (Py_ssize_t j = 0; j <= k; j++) {
        if (bytes_view(PyList_GET_ITEM(pieces_obj, j), &piece[j], &piece_size[j], "a piece") < 0) {
            goto done;
        }
        per_row += piece_size[j];
    }
    Py_ssize_t total = before_size + after_size + rows * per_row;
    if (rows > 0) {
        total += (rows - 1) * sep_size;
    }
    for (Py_ssize_t j = 0; j < k; j++) {
        Py_ssize_t size = column_size(&column[j], PyList_GET_ITEM(columns_obj, j), rows, j);
        if (size < 0) {
            goto done;
        }
        total += size;
    }
    answer = PyBytes_FromStringAndSize(NULL, total);
    if (answer == NULL) {
        goto done;
    }
    char *out = PyBytes_AS_STRING(answer);
    memcpy(out, before, before_size);
    out += before_size;
    for (Py_ssize_t i = 0; i < rows; i++) {
        if (i > 0) {
            memcpy(out, sep, sep_size);
            out += sep_size;
        }
        for (Py_ssize_t j = 0; j < k; j++) {
            memcpy(out, piece[j], piece_size[j]);
            out += piece_size[j];
            Column *c = &column[j];
            if (c->list != NULL) {
                PyObject *item = PyList_GET_ITEM(c->list, i);
                Py_ssize_t size = PyBytes_GET_SIZE(item);
                memcpy(out, PyBytes_AS_STRING(item), size);
                out += size;
            } else {
                const char *comma = memchr(c->text, c->delim, c->size);
                Py_ssize_t size = comma == NULL ? c->size : comma - c->text;
                memcpy(out, c->text, size);
                out += size;
                c->text += size + 1;
                c->size -= size + 1;
            }
        }
        memcpy(out, piece[k], piece_size[k]);
        out += piece_size[k];
    }
    memcpy(out, after, after_size);
done:
    PyMem_Free(piece);
    PyMem_Free(piece_size);
    PyMem_Free(column);
    return answer;
}

static PyMethodDef methods[] = {
    {"interleave", interleave, METH_VARARGS,
     "interleave(pieces, columns, rows, sep, before, after) -> bytes: rows of text from "
     "columns, each row pieces[0] + columns[0][i] + pieces[1] + ... + pieces[k]."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_rows", "Rows of text put together from columns in one pass.", -1,
    methods,
};

PyMODINIT_FUNC PyInit__rows(void) { return PyModule_Create(&module); }
