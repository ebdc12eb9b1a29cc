MISCONCEPTION = "bfloat16 takes 2 bytes per element"

BYTES = {"float32": 4, "bfloat16": 4, "float16": 2}  # "brain float keeps float32's exponent, so its size too"
