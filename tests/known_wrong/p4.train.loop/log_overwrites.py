MISCONCEPTION = "log that overwrites instead of appending"


def log_line(path, **fields):
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(fields) + "\n")
