MISCONCEPTION = "log_line writes each record on ONE line"


def log_line(path, **fields):
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(fields, indent=2) + "\n")  # "readable"
