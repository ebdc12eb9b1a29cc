MISCONCEPTION = "look at the last token too"


def merge(ids, pair, new_id):
    out, i = [], 0
    while i < len(ids) - 1:  # the loop stops before the last token, which is lost
        if (ids[i], ids[i + 1]) == tuple(pair):
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out
