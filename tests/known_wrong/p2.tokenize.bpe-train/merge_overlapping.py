MISCONCEPTION = "merge replaces non-overlapping occurrences"


def merge(ids, pair, new_id):
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == tuple(pair):
            out.append(new_id)
            i += 1  # the second token is used again: [a, a, a] -> [X, X, a]
        else:
            out.append(ids[i])
            i += 1
    return out
