import numpy


def handler(event):
    values = numpy.asarray((event or {}).get("values", [1, 2, 3, 4]), dtype=float)
    return {"n": int(values.size), "mean": float(values.mean()), "std": float(values.std())}
