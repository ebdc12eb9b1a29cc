MISCONCEPTION = "GPT-2's tanh approximation"

import math


def gelu(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))  # exact GELU, not the tanh form GPT-2 uses
