/* dot(xs, ys): the dot product of two equal-length sequences of floats, computed in C. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject* dot(PyObject* self, PyObject* args) {
  PyObject *xs, *ys;
  if (!PyArg_ParseTuple(args, "OO", &xs, &ys)) return NULL;
  PyObject* a = PySequence_Fast(xs, "xs must be a sequence");
  if (a == NULL) return NULL;
  PyObject* b = PySequence_Fast(ys, "ys must be a sequence");
  if (b == NULL) { Py_DECREF(a); return NULL; }
  Py_ssize_t n = PySequence_Fast_GET_SIZE(a);
  if (n != PySequence_Fast_GET_SIZE(b)) {
    Py_DECREF(a); Py_DECREF(b);
    PyErr_SetString(PyExc_ValueError, "xs and ys differ in length");
    return NULL;
  }
  double sum = 0.0;
  for (Py_ssize_t i = 0; i < n; ++i) {
    double x = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(a, i));
    double y = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(b, i));
    if (PyErr_Occurred()) { Py_DECREF(a); Py_DECREF(b); return NULL; }
    sum += x * y;
  }
  Py_DECREF(a);
  Py_DECREF(b);
  return PyFloat_FromDouble(sum);
}

static PyMethodDef kMethods[] = {
    {"dot", dot, METH_VARARGS, "dot(xs, ys) -> float"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef kModule = {PyModuleDef_HEAD_INIT, "_native", NULL, -1, kMethods};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&kModule); }
