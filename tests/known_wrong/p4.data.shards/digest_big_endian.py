MISCONCEPTION = "read big-endian"


def split_of(document, val_fraction):
    digest = hashlib.blake2b(document.encode("utf-8"), digest_size=8).digest()
    return "val" if int.from_bytes(digest, "big") / 2**64 < val_fraction else "train"
