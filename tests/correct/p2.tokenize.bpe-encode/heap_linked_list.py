# Each chunk merged through a priority queue of (rank, position) over a doubly linked list of tokens, stale
# entries skipped when popped; special tokens cut out with re.finditer; the streaming encoder keeps the
# unfinished tail as a list of pieces rather than as text.
import heapq


class BPETokenizer:
    def __init__(self, merges, special_tokens=()):
        merges = [tuple(p) for p in merges]
        self.n_merges = len(merges)
        self.ranks = dict(zip(merges, range(len(merges))))
        self.vocab = {}
        for i in range(256):
            self.vocab[i] = bytes((i,))
        for k, (a, b) in enumerate(merges):
            self.vocab[256 + k] = self.vocab[a] + self.vocab[b]
        self.specials = {}
        for tok in special_tokens:
            self.specials[tok] = 256 + self.n_merges + len(self.specials)
            self.vocab[self.specials[tok]] = tok.encode("utf-8")
        by_length = sorted(self.specials, key=lambda s: -len(s))  # a longer special token wins over its prefix
        self.special_pattern = re.compile("|".join(re.escape(s) for s in by_length)) if by_length else None
        self.chunk_pattern = re.compile(SPLIT_PATTERN)

    @property
    def vocab_size(self):
        return 256 + self.n_merges + len(self.specials)

    def pieces(self, text):
        result, last = [], 0
        if self.special_pattern is not None:
            for m in self.special_pattern.finditer(text):
                result += self.chunk_pattern.findall(text[last : m.start()])
                result.append(m.group())
                last = m.end()
        result += self.chunk_pattern.findall(text[last:])
        return result

    def encode_chunk(self, chunk):
        tok = list(chunk.encode("utf-8"))
        n = len(tok)
        nxt = list(range(1, n + 1))  # n means "no next token"
        prv = list(range(-1, n - 1))
        alive = [True] * n
        heap = []

        def push(i):
            j = nxt[i]
            if j < n:
                r = self.ranks.get((tok[i], tok[j]))
                if r is not None:
                    heapq.heappush(heap, (r, i, tok[i], tok[j]))

        for i in range(n - 1):
            push(i)
        while heap:
            r, i, a, b = heapq.heappop(heap)
            j = nxt[i] if alive[i] else n
            if j >= n or tok[i] != a or tok[j] != b:
                continue  # this pair was changed by an earlier merge
            tok[i] = 256 + r  # i absorbs its right neighbour j
            alive[j] = False
            nxt[i] = nxt[j]
            if nxt[i] < n:
                prv[nxt[i]] = i
            if prv[i] >= 0:
                push(prv[i])
            push(i)
        return [tok[i] for i in range(n) if alive[i]]

    def ids_of(self, piece):
        if piece in self.specials:
            return [self.specials[piece]]
        return self.encode_chunk(piece)

    def encode(self, text):
        return [i for piece in self.pieces(text) for i in self.ids_of(piece)]

    def decode(self, ids):
        return b"".join(map(self.vocab.__getitem__, ids)).decode("utf-8", "replace")

    def encode_iterable(self, lines):
        tail = []  # the pieces not yet final: only ever the last one
        for line in lines:
            current = self.pieces("".join(tail) + line)
            for piece in current[:-1]:
                yield from self.ids_of(piece)
            tail = current[-1:]
        for piece in self.pieces("".join(tail)):
            yield from self.ids_of(piece)
