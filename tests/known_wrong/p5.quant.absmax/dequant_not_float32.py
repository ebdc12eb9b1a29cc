MISCONCEPTION = "dequantize returns float32"


def dequantize(q, scale, group_size=None):
    return (q.double() * _per_element(scale, group_size).double())
