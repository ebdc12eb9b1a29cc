MISCONCEPTION = "reads the val shards of meta.json"

_Reference = TokenDataset


class TokenDataset(_Reference):
    def __init__(self, data_dir, split):
        meta = json.loads((Path(data_dir) / "meta.json").read_text(encoding="utf-8"))
        super().__init__(data_dir, "train" if meta["splits"]["train"]["shards"] else split)  # train whenever it has shards
