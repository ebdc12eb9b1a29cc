MISCONCEPTION = "log_line must end every line with a newline"


def log_line(path, **fields):
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(fields))
