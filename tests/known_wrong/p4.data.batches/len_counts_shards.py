MISCONCEPTION = "len(dataset) is the number of tokens of the split"


class TokenDataset(TokenDataset):
    def __len__(self):
        return len(self.shards)
