MISCONCEPTION = "AdamW's state is counted once"

OPTIMIZER_STATES = {"adamw": 1, "sgd": 0}  # "Adam keeps its moment per weight": one tensor, not m and v
