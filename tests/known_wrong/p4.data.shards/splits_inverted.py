MISCONCEPTION = "the splits are the wrong way round"


def split_of(document, val_fraction):
    digest = hashlib.blake2b(document.encode("utf-8"), digest_size=8).digest()
    return "train" if int.from_bytes(digest, "little") / 2**64 < val_fraction else "val"
